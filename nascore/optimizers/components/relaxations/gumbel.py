"""Gumbel-softmax relaxations: a draw of one op per edge, hard (GDAS) or soft (SNAS).

* ``gumbel_hard`` (GDAS, Dong and Yang, CVPR 2019, section 3.2): the argmax of ``alpha + g`` is the only op the
  edge computes, its output multiplied by the one-hot weight whose gradient is the soft sample's
  (straight-through).  Validated on the most likely op of each edge.
* ``gumbel_soft`` (SNAS, Xie et al., ICLR 2019, section 2.2): the edge computes every op weighted by the soft
  sample ``softmax((alpha + g) / tau)``: continuous weights (perturbations apply), validated on ``softmax(alpha)``,
  the probabilities of the Gumbel-max draw.

Both use GDAS's temperature schedule (``tau_max`` down to ``tau_min``, linearly) and draw the noise from the
method's CPU generator, saved in its state.  The heatmap shows ``softmax(alpha)``.
"""
from __future__ import annotations

from typing import Any

import torch

from nascore.networks.sampled import SampledRows
from nascore.optimizers.components.gumbel import (GumbelSettings, gumbel_noise, hard_gumbel_sample, linear_tau,
                                                  soft_gumbel_sample)
from nascore.optimizers.components.relaxations.base import RELAXATIONS, Relaxation


class _Gumbel(Relaxation):
    distribution_kind = "gumbel"
    settings = (GumbelSettings,)

    @property
    def tau(self) -> float:
        cfg = self.method.config
        return linear_tau(cfg.tau_max, cfg.tau_min, self.method.epochs_done(), cfg.epochs)


@RELAXATIONS.register("gumbel_hard", "one op per edge by Gumbel-max, straight-through gradient",
                      "GDAS (Dong and Yang, CVPR 2019), section 3.2", settings=(GumbelSettings,))
class HardGumbelRelaxation(_Gumbel):
    name = "gumbel_hard"
    single_path = True

    def sample(self, alphas: list[torch.Tensor]) -> dict[str, SampledRows]:
        """One hard Gumbel sample per cell type, straight-through w.r.t. ``alphas``."""
        out = {}
        tau = self.tau
        for ct, alpha in zip(self.method.masks, alphas):
            noise = gumbel_noise(alpha.shape, self.method.generator)
            hard, columns = hard_gumbel_sample(alpha, self.method.masks[ct], tau, noise)
            out[ct] = SampledRows(columns, weights=hard)
        return out

    def validation_weights(self) -> dict[str, Any]:
        return self.most_likely()


@RELAXATIONS.register("gumbel_soft", "Gumbel-softmax sample weighting every op (continuous)",
                      "SNAS (Xie et al., ICLR 2019), section 2.2", settings=(GumbelSettings,))
class SoftGumbelRelaxation(_Gumbel):
    name = "gumbel_soft"
    continuous = True

    def sample(self, alphas: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        tau = self.tau
        return {ct: soft_gumbel_sample(alpha, self.method.masks[ct], tau, gumbel_noise(alpha.shape, self.method.generator))
                for ct, alpha in zip(self.method.masks, alphas)}
