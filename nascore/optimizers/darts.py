"""DARTS's architecture gradient (Liu, Simonyan and Yang, ICLR 2019, section 2.3), first or second order, for any
relaxation whose search-step weights are a differentiable function of the architecture parameters.

The second-order gradient is the paper's: the architecture gradient of the validation loss after one virtual SGD
step of the weights, with the Hessian-vector product replaced by a central finite difference.  The virtual step is
computed functionally (``torch.func.functional_call`` on a dict of tensors) instead of on a copy of the model.
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
        """w' = w - lr * (momentum * buffer + dL_train/dw + wd * w): one SGD step, as the paper unrolls it."""
        named = self._named_weights()
        alphas = [a.detach() for a in self.arch_parameters()]
        loss = self._loss_with(named, alphas, train)
        grads = torch.autograd.grad(loss, list(named.values()))
        lr = self.w_optimizer.param_groups[0]["lr"]
        momentum = self.config.w_momentum
        wd = self.weight_decay()  # DARTS-ADA may have raised it
        unrolled = {}
        for (name, w), g in zip(named.items(), grads):
            buf = self.w_optimizer.state.get(w, {}).get("momentum_buffer")
            d = g + wd * w.detach()
            if buf is not None:
                d = d + momentum * buf
            unrolled[name] = w.detach() - lr * d
        return unrolled

    def unrolled_arch_grads(self, train: Batch, val: Batch) -> list[torch.Tensor]:
        """dL_val(w', a)/da - lr * (d2 L_train / da dw) dL_val(w', a)/dw', the Hessian term by finite differences."""
        lr = self.w_optimizer.param_groups[0]["lr"]
        unrolled = {n: w.requires_grad_() for n, w in self.virtual_step(train).items()}
        alphas = self.arch_parameters()
        loss = self._loss_with(unrolled, alphas, val)
        grads = grads_or_zeros(loss, alphas + list(unrolled.values()))
        d_alpha, d_w = grads[: len(alphas)], grads[len(alphas):]
        hvp = self.hessian_vector_product(d_w, train, self.hvp_r)
        return [da - lr * h for da, h in zip(d_alpha, hvp)]

    def hessian_vector_product(self, vector: Any, train: Batch, r: float = 1e-2) -> list[torch.Tensor]:
        """(dL_train(w + eps v)/da - dL_train(w - eps v)/da) / (2 eps), eps = r / ||v||."""
        named = self._named_weights()
        eps = r / torch.cat([v.reshape(-1) for v in vector]).norm()
        alphas = self.arch_parameters()
        plus = {n: w.detach() + eps * v for (n, w), v in zip(named.items(), vector)}
        minus = {n: w.detach() - eps * v for (n, w), v in zip(named.items(), vector)}
        g_plus = grads_or_zeros(self._loss_with(plus, alphas, train), alphas)
        g_minus = grads_or_zeros(self._loss_with(minus, alphas, train), alphas)
        return [(p - m) / (2 * eps) for p, m in zip(g_plus, g_minus)]
