"""DARTS's architecture gradient (Liu, Simonyan and Yang, ICLR 2019, section 2.3), first or second order, for any
relaxation whose search-step weights are a differentiable function of the architecture parameters.

The second-order gradient is the paper's: the architecture gradient of the validation loss after one virtual SGD
step of the weights, with the Hessian-vector product replaced by a central finite difference.  The virtual step is
written into the model's own parameters (saved and restored) instead of a copy of the model, its batch-norm buffers
restored after the pass on the unrolled weights so that its running statistics behave as the reference's copy.
"""
from __future__ import annotations

from typing import Any

import torch

from nascore.optimizers.base import Batch
from nascore.settings import Settings, setting


class ArchitectureUpdateSettings(Settings):
    """The architecture parameters' optimizer (Adam) and the order of their gradient.  The defaults are DARTS's;
    a preset may change them for a config that leaves them out (proxyless: the authors' lr 1e-3, betas (0, 0.999),
    no weight decay, :data:`~nascore.optimizers.presets.PRESETS`)."""

    title = "Architecture update"

    order: int = setting(1, "1: first-order architecture gradient; 2: the unrolled second-order one.", ge=1, le=2,
                         expects="1 (first order) or 2 (second order)",
                         source="DARTS (Liu et al., ICLR 2019), section 2.3; first order as in most successors", label='Order (1 = first order, 2 = second order)')
    alpha_lr: float = setting(3e-4, "Adam's learning rate on the architecture parameters.", gt=0, basic=True,
                              source="DARTS, section A.1.1: 3e-4; ProxylessNAS's code: 1e-3 (the proxyless preset's "
                                     "default)", label='Architecture learning rate')
    alpha_beta1: float = setting(0.5, "Adam's first momentum on the architecture parameters.", ge=0, lt=1,
                                 source="DARTS, section A.1.1: betas (0.5, 0.999); ProxylessNAS's code: 0", label='Architecture Adam beta1')
    alpha_beta2: float = setting(0.999, "Adam's second momentum on the architecture parameters.", gt=0, lt=1,
                                 source="DARTS, section A.1.1: betas (0.5, 0.999)", label='Architecture Adam beta2')
    alpha_weight_decay: float = setting(1e-3, "Weight decay of the architecture parameters (off under regularizer "
                                              "dirichlet_kl, which replaces it).", ge=0,
                                        source="DARTS, section A.1.1: 1e-3; ProxylessNAS's code: 0 (the proxyless "
                                               "preset's default)", label='Architecture weight decay')


def grads_or_zeros(loss: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Gradients of ``loss`` w.r.t. ``inputs`` only; zeros for inputs the loss does not reach."""
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]


class ArchitectureGradient:
    """The gradient-based architecture step of a method (mixed into :class:`ComposedOptimizer`): it needs
    ``model``, ``config``, ``w_optimizer``, ``alpha_optimizer``, :meth:`arch_parameters`, :meth:`val_loss`,
    :meth:`arch_loss` and :meth:`weight_decay`."""

    #: the paper's finite-difference step: eps = hvp_r / ||dL_val/dw'||
    hvp_r = 1e-2

    def gradient_arch_step(self, train: Batch, val: Batch) -> None:
        """One Adam step of the architecture parameters on the (first- or second-order) gradient."""
        self.alpha_optimizer.zero_grad(set_to_none=True)
        if self.config.order == 2:
            grads = self.unrolled_arch_grads(train, val)
        else:
            grads = self.first_order_arch_grads(val)
        cost = self.cost_grads()  # the hardware-cost term does not depend on the weights: its gradient adds
        if cost is not None:
            grads = [g + c for g, c in zip(grads, cost)]
        for param, grad in zip(self.arch_parameters(), grads):
            param.grad = grad
        self.alpha_optimizer.step()

    def cost_grads(self) -> list[torch.Tensor] | None:
        """The gradient of a hardware-cost term w.r.t. the architecture parameters, if the method has one."""
        return None

    def first_order_arch_grads(self, val: Batch) -> list[torch.Tensor]:
        """Gradient of the validation loss w.r.t. the architecture parameters only (no weight gradients)."""
        return grads_or_zeros(self.val_loss(val), self.arch_parameters())

    def _named_weights(self) -> dict[str, torch.Tensor]:
        return {name: p for name, p in self.model.named_parameters() if p.requires_grad}

    def _loss_with(self, params: dict[str, torch.Tensor], alphas: list[torch.Tensor], batch: Batch) -> torch.Tensor:
        return self.arch_loss(batch, alphas, params)

    def virtual_step(self, train: Batch) -> dict[str, torch.Tensor]:
        """w' = w - lr * (momentum * buffer + dL_train/dw + wd * w): one SGD step, as the paper unrolls it
        (quark0/darts, cnn/architect.py, ``_compute_unrolled_model``).  The arithmetic runs as a few
        ``torch._foreach_*`` kernels over all ~1,400 weight tensors instead of a Python loop of small ops."""
        named = self._named_weights()
        weights = list(named.values())
        loss = self.arch_loss(train, [a.detach() for a in self.arch_parameters()])  # the model's own weights
        grads = torch.autograd.grad(loss, weights)
        lr = float(self.w_optimizer.param_groups[0]["lr"])
        momentum = float(self.config.w_momentum)
        wd = float(self.weight_decay())  # DARTS-ADA may have raised it
        with torch.no_grad():
            detached = [w.detach() for w in weights]
            step = torch._foreach_add(grads, detached, alpha=wd)  # dL/dw + wd * w
            state = self.w_optimizer.state
            buffers = [state.get(w, {}).get("momentum_buffer") for w in weights]
            with_buf = [i for i, b in enumerate(buffers) if b is not None]
            if with_buf:  # the first step has no momentum buffer yet (SGD creates it at its first step)
                torch._foreach_add_([step[i] for i in with_buf], [buffers[i] for i in with_buf], alpha=momentum)
            unrolled = torch._foreach_add(detached, step, alpha=-lr)
        return dict(zip(named, unrolled))

    def unrolled_arch_grads(self, train: Batch, val: Batch) -> list[torch.Tensor]:
        """dL_val(w', a)/da - lr * (d2 L_train / da dw) dL_val(w', a)/dw', the Hessian term by finite differences
        (architect.py, ``_backward_step_unrolled``).

        Every pass runs the model itself on weights written into its parameters (saved first, restored exactly
        afterwards, also on an error) instead of re-binding ~1,400 parameters per pass with ``torch.func.functional_call``
        (no step-time gain was measurable on a loaded 2-core CPU at C=8, 5 cells, batch 8).  The pass on w' also restores the batch-norm buffers: the
        reference evaluates w' on a new model loaded with the current state dict (``_construct_model_from_theta``),
        so that pass's running-statistics update lands on the copy and is thrown away."""
        lr = self.w_optimizer.param_groups[0]["lr"]
        weights = list(self._named_weights().values())
        unrolled = list(self.virtual_step(train).values())
        alphas = self.arch_parameters()
        with torch.no_grad():
            saved = [w.detach().clone() for w in weights]
            stats = [b.clone() for b in self.model.buffers()]
        try:
            with torch.no_grad():
                torch._foreach_copy_(weights, unrolled)
            del unrolled
            grads = grads_or_zeros(self.arch_loss(val, alphas), alphas + weights)
            with torch.no_grad():
                torch._foreach_copy_(list(self.model.buffers()), stats)
            del stats
            d_alpha, d_w = grads[: len(alphas)], grads[len(alphas):]
            hvp = self._finite_difference(weights, saved, d_w, train, self.hvp_r)
        finally:
            with torch.no_grad():
                torch._foreach_copy_(weights, saved)
        return [da - lr * h for da, h in zip(d_alpha, hvp)]

    def _finite_difference(self, weights: list[torch.Tensor], saved: list[torch.Tensor], vector: list[torch.Tensor],
                           train: Batch, r: float) -> list[torch.Tensor]:
        """(dL_train(w + eps v)/da - dL_train(w - eps v)/da) / (2 eps), eps = r / ||v||, with w (``saved``) written
        into the model's ``weights`` and moved in place from w + eps v to w - eps v, as the reference does
        (architect.py, ``_hessian_vector_product``: ``add_(R, v)`` then ``sub_(2 * R, v)``).  The perturbed passes
        run on the model's own buffers, so they update its batch-norm running statistics as the reference's do."""
        alphas = self.arch_parameters()
        with torch.no_grad():
            eps = float(r / torch.linalg.vector_norm(torch.stack(torch._foreach_norm(vector))))
            torch._foreach_copy_(weights, saved)
            torch._foreach_add_(weights, vector, alpha=eps)
        g_plus = grads_or_zeros(self.arch_loss(train, alphas), alphas)
        with torch.no_grad():
            torch._foreach_add_(weights, vector, alpha=-2 * eps)
        g_minus = grads_or_zeros(self.arch_loss(train, alphas), alphas)
        return [(p - m) / (2 * eps) for p, m in zip(g_plus, g_minus)]

    def hessian_vector_product(self, vector: Any, train: Batch, r: float = 1e-2) -> list[torch.Tensor]:
        """(dL_train(w + eps v)/da - dL_train(w - eps v)/da) / (2 eps), eps = r / ||v||, at the current weights
        (left unchanged)."""
        weights = list(self._named_weights().values())
        with torch.no_grad():
            saved = [w.detach().clone() for w in weights]
        try:
            return self._finite_difference(weights, saved, list(vector), train, r)
        finally:
            with torch.no_grad():
                torch._foreach_copy_(weights, saved)
