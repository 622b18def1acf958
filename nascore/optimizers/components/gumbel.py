"""Gumbel-max sampling with the straight-through estimator (GDAS, Dong and Yang, CVPR 2019), and the soft
Gumbel-softmax sample (SNAS, Xie et al., ICLR 2019).

``hard_gumbel_sample`` draws one op per edge row: ``argmax(logits + g)`` with Gumbel noise ``g``,
returned as exactly one-hot weights whose gradient is that of ``softmax((logits + g) / tau)``
(``one_hot + p - p.detach()``: the value is the one-hot, the gradient the relaxed sample's).
The noise comes from a caller's CPU ``torch.Generator`` so that the sampled architectures depend
only on that generator's state (saved in checkpoints), not on the device.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from nascore.settings import Settings, setting


class GumbelSettings(Settings):
    """The Gumbel-softmax temperature, falling linearly over the epochs."""

    title = "Gumbel temperature (GDAS, SNAS)"

    tau_max: float = setting(10.0, "Gumbel temperature at the first epoch.", gt=0,
                             source="GDAS (Dong and Yang, CVPR 2019), section 4.1: from 10", label='Gumbel temperature at the start')
    tau_min: float = setting(0.1, "Gumbel temperature at the last epoch.", gt=0,
                             source="GDAS, section 4.1: linearly down to 0.1", label='Gumbel temperature at the end')

    @classmethod
    def checks(cls, config):
        if config["tau_min"] > config["tau_max"]:
            return {"tau_min": f"tau_min ({config['tau_min']}) must not exceed tau_max ({config['tau_max']}): "
                               "the temperature falls"}
        return {}


def gumbel_noise(shape: torch.Size | tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Standard Gumbel samples ``-log(E)``, ``E ~ Exp(1)``, on the CPU (never infinite)."""
    e = torch.empty(shape).exponential_(generator=generator)
    return e.clamp_(min=torch.finfo(e.dtype).tiny).log_().neg_()


def _noisy(logits: torch.Tensor, mask: torch.Tensor, tau: float, noise: torch.Tensor) -> torch.Tensor:
    return (logits.masked_fill(~mask, float("-inf")) + noise.to(logits.device, logits.dtype)) / tau


def hard_gumbel_sample(logits: torch.Tensor, mask: torch.Tensor, tau: float,
                       noise: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """One op per row: ``(weights, columns)``; ``weights`` one-hot in value, straight-through in gradient.

    ``mask`` (bool, like ``logits``) marks the candidates of each row; the others are never drawn.
    """
    noisy = _noisy(logits, mask, tau, noise)
    probs = F.softmax(noisy, dim=-1)
    index = noisy.detach().argmax(dim=-1)
    one_hot = torch.zeros_like(probs).scatter_(-1, index.unsqueeze(-1), 1.0)
    return one_hot + (probs - probs.detach()), index.tolist()


def soft_gumbel_sample(logits: torch.Tensor, mask: torch.Tensor, tau: float, noise: torch.Tensor) -> torch.Tensor:
    """SNAS's relaxed sample (Xie et al., ICLR 2019, eq. 3): ``softmax((logits + g) / tau)`` over each row's
    candidates (``mask``); the others get exactly 0.  Differentiable in ``logits`` (no straight-through)."""
    return F.softmax(_noisy(logits, mask, tau, noise), dim=-1)


def linear_tau(tau_max: float, tau_min: float, epoch: int, epochs: int) -> float:
    """GDAS's schedule: ``tau_max`` at the first epoch down to ``tau_min`` at the last, linearly."""
    if epochs <= 1:
        return float(tau_max)
    return float(tau_max - (tau_max - tau_min) * min(epoch, epochs - 1) / (epochs - 1))
