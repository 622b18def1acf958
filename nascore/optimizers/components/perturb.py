"""SmoothDARTS's perturbations of the architecture weights (Chen and Hsieh, ICML 2020).

The weights of the network are trained at perturbed architecture weights, which flattens the
validation loss in architecture space:

* ``random`` (SDARTS-RS): ``w + U(-eps, eps)`` on every candidate entry;
* ``adversarial`` (SDARTS-ADV): ``eps``-bounded (L-inf) projected gradient ascent on the training
  loss of the batch, ``steps`` signed-gradient steps of ``2 eps / steps`` from a random start,
  kept only if it raises the loss.

Perturbed rows are clipped to [0, 1] and renormalised over each edge's candidates (the paper's
``clip``).  ``eps`` rises linearly from 0.03 (or ``epsilon`` if smaller) to ``epsilon`` over the
search, as in the paper's code.  The component works on what a method's supernet runs on: a tensor
of edge x op weights per cell type, or rows wrapped with edge factors (``ScaledRows``, PC-DARTS),
so it combines with any method whose supernet takes continuous weights (darts, pcdarts, drnas).
The ascent runs with batch statistics and without touching BN running statistics; random numbers
come from the global generator, which the runner checkpoints.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from nascore.optimizers.components.registry import registry
from nascore.optimizers.components.schedules import linear_ramp
from nascore.settings import Settings, setting

Batch = tuple[torch.Tensor, torch.Tensor]
PERTURBATIONS = ("none", "random", "adversarial")
EPSILON_START = 0.03


PERTURBATIONS_REGISTRY = registry("perturbation", "Perturbation", "perturb",
                                  "How the architecture weights are perturbed for the weight step.")


class PerturbationSettings(Settings):
    """SmoothDARTS: train the weights under perturbed architecture weights."""

    title = "Perturbation (SmoothDARTS)"

    perturb: str = setting("none", "none; random (SDARTS-RS: uniform noise); adversarial (SDARTS-ADV: PGD).",
                           choices={"none": "none", "random": "random (SDARTS-RS)",
                                    "adversarial": "adversarial (SDARTS-ADV)"},
                           source="NASBoard's choice: off unless asked (Chen and Hsieh, ICML 2020, define both)", label='Perturbation')
    perturb_epsilon: float = setting(0.3, "The perturbation's radius at the last epoch (it rises linearly from "
                                          "0.03).", gt=0, le=1, hint="SmoothDARTS: 0.3",
                                     source="SmoothDARTS (Chen and Hsieh, ICML 2020), section 4: 0.03 to 0.3", label='Perturbation radius')
    perturb_steps: int = setting(7, "PGD steps of the adversarial perturbation.", gt=0, hint="SDARTS-ADV: 7",
                                 source="SmoothDARTS, section 4: 7 steps", label='PGD steps')


def rows_of(weights: Any) -> torch.Tensor:
    """The edge x op tensor inside a cell type's weights."""
    return weights.rows if hasattr(weights, "replace_rows") else weights


def with_rows(weights: Any, rows: torch.Tensor) -> Any:
    return weights.replace_rows(rows) if hasattr(weights, "replace_rows") else rows


def project(rows: torch.Tensor, mask: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Clip to [0, 1] on the candidates, renormalise each row; an all-zero row becomes the one-hot of
    ``fallback``'s largest entry."""
    rows = rows.clamp(0.0, 1.0) * mask
    total = rows.sum(-1, keepdim=True)
    hot = torch.zeros_like(rows).scatter_(-1, fallback.argmax(-1, keepdim=True), 1.0)
    return torch.where(total > 0, rows / total.clamp_min(torch.finfo(rows.dtype).tiny), hot)


class Perturbation:
    def __init__(self, kind: str, epsilon: float, steps: int = 7):
        if kind not in PERTURBATIONS[1:]:
            raise ValueError(f"unknown perturbation {kind!r}; choose one of: {', '.join(PERTURBATIONS)}")
        self.kind, self.epsilon, self.steps = kind, float(epsilon), int(steps)

    def radius(self, epoch: int, epochs: int) -> float:
        return linear_ramp(min(EPSILON_START, self.epsilon), self.epsilon, epoch, epochs)

    def __call__(self, model: nn.Module, weights: dict[str, Any], masks: dict[str, torch.Tensor], batch: Batch,
                 epoch: int, epochs: int) -> dict[str, Any]:
        """Perturbed copies of ``weights`` (``{cell_type: weights}``, no gradient) for a weight step on ``batch``."""
        eps = self.radius(epoch, epochs)
        clean = {ct: rows_of(w).detach() for ct, w in weights.items()}
        fmask = {ct: masks[ct].to(clean[ct].dtype) for ct in clean}

        def perturbed(deltas: dict[str, torch.Tensor]) -> dict[str, Any]:
            return {ct: with_rows(w, project(clean[ct] + deltas[ct], fmask[ct], clean[ct])) for ct, w in weights.items()}

        start = {ct: torch.empty_like(c).uniform_(-eps, eps) * fmask[ct] for ct, c in clean.items()}
        if self.kind == "random":
            return perturbed(start)
        return self._pgd(model, weights, perturbed, start, fmask, batch, eps)

    def _pgd(self, model: nn.Module, weights: dict[str, Any], perturbed: Callable[[dict], dict[str, Any]],
             deltas: dict[str, torch.Tensor], fmask: dict[str, torch.Tensor], batch: Batch, eps: float) -> dict[str, Any]:
        from nascore.curvature import frozen_batch_stats

        x, y = batch
        step = 2 * eps / max(self.steps, 1)
        with frozen_batch_stats(model):
            with torch.no_grad():
                loss_clean = F.cross_entropy(model(x, weights), y)
            for _ in range(self.steps):
                leaves = {ct: d.detach().requires_grad_() for ct, d in deltas.items()}
                loss = F.cross_entropy(model(x, perturbed(leaves)), y)
                grads = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True)
                deltas = {ct: ((d.detach() + step * g.sign()) if g is not None else d.detach()).clamp(-eps, eps)
                          * fmask[ct] for (ct, d), g in zip(leaves.items(), grads)}
            adversarial = perturbed(deltas)
            with torch.no_grad():
                loss_adv = F.cross_entropy(model(x, adversarial), y)
        return adversarial if loss_adv >= loss_clean else {ct: with_rows(w, rows_of(w).detach()) for ct, w in weights.items()}


PERTURBATIONS_REGISTRY.add("none", None, "the weights train on the relaxation's weights",
                           "DARTS (Liu et al., ICLR 2019)")
PERTURBATIONS_REGISTRY.add("random", "random", "uniform noise within eps (SDARTS-RS)",
                           "SmoothDARTS (Chen and Hsieh, ICML 2020), section 3.1", settings=(PerturbationSettings,))
PERTURBATIONS_REGISTRY.add("adversarial", "adversarial", "PGD within eps that raises the training loss (SDARTS-ADV)",
                           "SmoothDARTS (Chen and Hsieh, ICML 2020), section 3.2", settings=(PerturbationSettings,))


def build_perturbation(config: Any) -> Perturbation | None:
    kind = getattr(config, "perturb", "none")
    if kind == "none":
        return None
    return Perturbation(kind, config.perturb_epsilon, config.perturb_steps)
