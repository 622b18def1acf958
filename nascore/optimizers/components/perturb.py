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
Random numbers come from the global generator, which the runner checkpoints.

The ascent follows the authors' code (xiangning-chen/SmoothDARTS ``attacker/perturb.py``,
``Linf_PGD_alpha``): the network is in eval mode during the attack (lines 12-14: BN normalises with
its running statistics and leaves them as they were, dropout and drop-path are off), each step's
gradient is taken at the current, already projected weights, and the step, the clamp to the
eps-ball and the projection are done outside autograd (lines 24-34: ``optimizer.step()`` then
``p.data.copy_`` and ``model.clip()`` on ``.data``), so no gradient flows through the projection.
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
        return self._pgd(model, weights, perturbed, clean, start, fmask, batch, eps)

    def _pgd(self, model: nn.Module, weights: dict[str, Any], perturbed: Callable[[dict], dict[str, Any]],
             clean: dict[str, torch.Tensor], deltas: dict[str, torch.Tensor], fmask: dict[str, torch.Tensor],
             batch: Batch, eps: float) -> dict[str, Any]:
        """SmoothDARTS's ``Linf_PGD_alpha`` (attacker/perturb.py:11-44): eval mode, signed steps of ``2 eps / steps``
        from a projected random start, clamp and projection without autograd, kept only if the loss rose."""
        x, y = batch
        step = 2 * eps / max(self.steps, 1)
        was_training = model.training
        model.eval()  # perturb.py:12-14
        try:
            with torch.no_grad():
                loss_clean = F.cross_entropy(model(x, weights), y)  # perturb.py:17-18
                current = perturbed(deltas)  # the random start, projected (perturb.py:19-22)
            for _ in range(self.steps):
                leaves = {ct: rows_of(w).detach().requires_grad_() for ct, w in current.items()}
                loss = F.cross_entropy(model(x, {ct: with_rows(weights[ct], a) for ct, a in leaves.items()}), y)
                grads = torch.autograd.grad(loss, list(leaves.values()), allow_unused=True)
                with torch.no_grad():  # perturb.py:29-34: step, clamp to the ball, clip, all on .data
                    deltas = {ct: (((a + step * g.sign()) if g is not None else a) - clean[ct]).clamp(-eps, eps)
                              * fmask[ct] for (ct, a), g in zip(leaves.items(), grads)}
                    current = perturbed(deltas)
            with torch.no_grad():
                loss_adv = F.cross_entropy(model(x, current), y)  # perturb.py:38-42
        finally:
            model.train(was_training)
        return current if loss_adv >= loss_clean else {ct: with_rows(w, rows_of(w).detach()) for ct, w in weights.items()}


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
