"""DARTS (Liu, Simonyan and Yang, ICLR 2019): continuous relaxation with a softmax over
the candidate ops of each edge, first or second order architecture gradient.

The second-order gradient is the paper's: the architecture gradient of the validation
loss after one virtual SGD step of the weights, with the Hessian-vector product replaced
by a central finite difference.  The virtual step is computed functionally
(``torch.func.functional_call`` on a dict of tensors) instead of on a copy of the model.
"""
from __future__ import annotations

from typing import Any, TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from nascore.networks.edges import EdgeFactory, mixed_op_factory
from nascore.optimizers.base import Batch, SearchOptimizer, StepStats
from nascore.optimizers.components.perturb import PerturbationSettings, build_perturbation
from nascore.settings import Settings, setting
from nascore.spaces.base import SearchSpace

if TYPE_CHECKING:
    from nascore.config import SearchConfig


class ArchitectureUpdateSettings(Settings):
    """The architecture parameters' optimizer (Adam) and the order of their gradient."""

    title = "Architecture update"

    order: int = setting(1, "1: first-order architecture gradient; 2: the unrolled second-order one.", ge=1, le=2,
                         expects="1 (first order) or 2 (second order)",
                         source="DARTS (Liu et al., ICLR 2019), section 2.3; first order as in most successors", label='Order (1 = first order, 2 = second order)')
    alpha_lr: float = setting(3e-4, "Adam's learning rate on the architecture parameters.", gt=0, basic=True,
                              source="DARTS, section A.1.1: 3e-4", label='Architecture learning rate')
    alpha_beta1: float = setting(0.5, "Adam's first momentum on the architecture parameters.", gt=0, lt=1,
                                 source="DARTS, section A.1.1: betas (0.5, 0.999)", label='Architecture Adam beta1')
    alpha_beta2: float = setting(0.999, "Adam's second momentum on the architecture parameters.", gt=0, lt=1,
                                 source="DARTS, section A.1.1: betas (0.5, 0.999)", label='Architecture Adam beta2')
    alpha_weight_decay: float = setting(1e-3, "Weight decay of the architecture parameters.", ge=0,
                                        source="DARTS, section A.1.1: 1e-3", label='Architecture weight decay')


def grads_or_zeros(loss: torch.Tensor, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Gradients of ``loss`` w.r.t. ``inputs`` only; zeros for inputs the loss does not reach."""
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads)]


class DARTSOptimizer(SearchOptimizer):
    """DARTS, and the base of the methods that are DARTS plus a change (PC-DARTS, GDAS, DrNAS, ProxylessNAS).

    Hooks for those: :meth:`arch_parameters` (all continuous architecture parameters, in one order),
    :meth:`weights_from` (the deterministic relaxation), :meth:`sample_weights` (what the supernet runs on
    in a search step: a sample for stochastic methods), :meth:`arch_regularizer` (added to the architecture
    loss).  A SmoothDARTS perturbation (``config.perturb``) perturbs the weights of every weight step.
    """

    name = "darts"
    distribution_kind = "softmax"
    #: the paper's finite-difference step: eps = hvp_r / ||dL_val/dw'||
    hvp_r = 1e-2
    continuous_weights = True
    second_order = True
    settings = (ArchitectureUpdateSettings, PerturbationSettings)

    def __init__(self, space: SearchSpace, config: SearchConfig):
        super().__init__(space, config)
        self.perturbation = build_perturbation(config)

    def edge_factory(self) -> EdgeFactory:
        return mixed_op_factory(self.space.ops, self.space.pool_bn)

    # ---- set-up -------------------------------------------------------------------
    def setup(self, model: nn.Module, device: torch.device) -> None:
        cfg = self.config
        self.model = model
        self.device = device
        self.masks = {ct: self.space.op_mask(ct).to(device) for ct in self.space.cell_types}
        self.alphas = nn.ParameterDict({
            ct: nn.Parameter(1e-3 * torch.randn(mask.shape, device=device)) for ct, mask in self.masks.items()
        })
        self.weight_params = [p for p in model.parameters() if p.requires_grad]
        self.w_optimizer = torch.optim.SGD(self.weight_params, lr=cfg.w_lr, momentum=cfg.w_momentum,
                                           weight_decay=cfg.w_weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.w_optimizer, T_max=cfg.epochs,
                                                                    eta_min=cfg.w_lr_min)
        self.alpha_optimizer = torch.optim.Adam(self.alphas.values(), lr=cfg.alpha_lr,
                                                betas=(cfg.alpha_beta1, cfg.alpha_beta2),
                                                weight_decay=cfg.alpha_weight_decay)

    def arch_parameters(self) -> list[torch.Tensor]:
        return list(self.alphas.values())

    def weights_from(self, alphas: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return {ct: self._softmax(ct, a) for ct, a in zip(self.alphas.keys(), alphas)}

    def sample_weights(self, alphas: list[torch.Tensor]) -> dict[str, Any]:
        """What the supernet runs on in a search step (DARTS: the relaxation itself)."""
        return self.weights_from(alphas)

    def arch_regularizer(self) -> torch.Tensor | float:
        """A term added to the architecture loss (DrNAS: the KL to its prior)."""
        return 0.0

    def forward_weights(self) -> dict[str, Any]:
        with torch.no_grad():
            return self.weights_from([a.detach() for a in self.arch_parameters()])

    def epochs_done(self) -> int:
        return int(self.scheduler.last_epoch)

    def distribution(self) -> dict[str, torch.Tensor]:
        return {ct: self._softmax(ct, alpha) for ct, alpha in self.alphas.items()}

    def _softmax(self, cell_type: str, alpha: torch.Tensor) -> torch.Tensor:
        return F.softmax(alpha.masked_fill(~self.masks[cell_type], float("-inf")), dim=-1)

    # ---- one search step ------------------------------------------------------------
    def step(self, train: Batch, val: Batch) -> StepStats:
        self.model.train()
        self.alpha_optimizer.zero_grad(set_to_none=True)
        if self.config.order == 2:
            grads = self.unrolled_arch_grads(train, val)
        else:
            grads = self.first_order_arch_grads(val)
        for param, grad in zip(self.arch_parameters(), grads):
            param.grad = grad
        self.alpha_optimizer.step()
        return self.weight_step(train)

    def val_loss(self, val: Batch) -> torch.Tensor:
        x, y = val
        return F.cross_entropy(self.model(x, self.sample_weights(self.arch_parameters())), y) + self.arch_regularizer()

    def first_order_arch_grads(self, val: Batch) -> list[torch.Tensor]:
        """Gradient of the validation loss w.r.t. the architecture parameters only (no weight gradients)."""
        return grads_or_zeros(self.val_loss(val), self.arch_parameters())

    def train_weights(self, train: Batch) -> dict[str, Any]:
        """The (detached) weights of a weight step, perturbed when a perturbation is configured."""
        with torch.no_grad():
            weights = self.sample_weights([a.detach() for a in self.arch_parameters()])
        if self.perturbation is not None:
            weights = self.perturbation(self.model, weights, self.masks, train, self.epochs_done(), self.config.epochs)
        return weights

    def weight_step(self, train: Batch) -> StepStats:
        x, y = train
        logits = self.model(x, self.train_weights(train))
        loss = F.cross_entropy(logits, y)
        self.w_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.weight_params, self.config.grad_clip)
        self.w_optimizer.step()
        return StepStats(float(loss.detach()), int((logits.argmax(1) == y).sum()), int(y.numel()))

    # ---- second order ---------------------------------------------------------------
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

    def hessian_vector_product(self, vector: tuple[torch.Tensor, ...], train: Batch, r: float = 1e-2) -> list[torch.Tensor]:
        """(dL_train(w + eps v)/da - dL_train(w - eps v)/da) / (2 eps), eps = r / ||v||."""
        named = self._named_weights()
        eps = r / torch.cat([v.reshape(-1) for v in vector]).norm()
        alphas = self.arch_parameters()
        plus = {n: w.detach() + eps * v for (n, w), v in zip(named.items(), vector)}
        minus = {n: w.detach() - eps * v for (n, w), v in zip(named.items(), vector)}
        g_plus = grads_or_zeros(self._loss_with(plus, alphas, train), alphas)
        g_minus = grads_or_zeros(self._loss_with(minus, alphas, train), alphas)
        return [(p - m) / (2 * eps) for p, m in zip(g_plus, g_minus)]

    # ---- bookkeeping ----------------------------------------------------------------
    def end_epoch(self, epoch: int) -> None:
        self.scheduler.step()

    def current_lr(self) -> float:
        return float(self.w_optimizer.param_groups[0]["lr"])

    def weight_decay(self) -> float:
        return float(self.w_optimizer.param_groups[0]["weight_decay"])

    def set_weight_decay(self, value: float) -> None:
        for group in self.w_optimizer.param_groups:  # saved with w_optimizer.state_dict()
            group["weight_decay"] = float(value)

    def state_dict(self) -> dict[str, Any]:
        return {
            "alphas": {ct: a.detach().clone() for ct, a in self.alphas.items()},
            "w_optimizer": self.w_optimizer.state_dict(),
            "alpha_optimizer": self.alpha_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            for ct, value in state["alphas"].items():
                self.alphas[ct].copy_(value)
        self.w_optimizer.load_state_dict(state["w_optimizer"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
