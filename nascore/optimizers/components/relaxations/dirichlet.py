"""DrNAS's Dirichlet relaxation (Chen et al., ICLR 2021, section 2.2): the op weights of each edge are a sample of
``Dir(elu(alpha) + 1)``, drawn with the reparameterised (implicit-gradient) sampler so that the architecture
gradient reaches the concentration; validated on the Dirichlet mean.  Edges with fewer candidates than the space's
ops draw over their candidates only.  The random numbers are the global generator's, which the runner checkpoints.

The architecture is read, and shown, as the authors' code reads it: from ``softmax(alpha)`` over each edge's
candidates, not from the Dirichlet mean (xiangning-chen/DrNAS ``DARTS-space/model_search.py:251-254`` and
``201-space/search_model.py:106``, ``genotype()``: ``process_step_matrix(alphas, 'softmax', mask)``).  The two agree
on each edge's best op (``elu + 1`` is increasing) but not on which two inputs a DARTS node keeps.

DrNAS's KL term is a regulariser (:mod:`~nascore.optimizers.components.regularizers`).
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from nascore.optimizers.components.relaxations.base import RELAXATIONS, Relaxation


@RELAXATIONS.register("dirichlet", "Dirichlet sample of the op weights (continuous)",
                      "DrNAS (Chen et al., ICLR 2021), section 2.2")
class DirichletRelaxation(Relaxation):
    name = "dirichlet"
    distribution_kind = "softmax"  # the heatmap shows softmax(alpha), what the genotype is read from
    continuous = True

    @staticmethod
    def concentration(alpha: torch.Tensor) -> torch.Tensor:
        return F.elu(alpha) + 1.0

    def weights_from(self, alphas: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """The Dirichlet mean of each edge (the deterministic relaxation)."""
        out = {}
        for ct, alpha in zip(self.method.masks, alphas):
            conc = self.concentration(alpha) * self.method.masks[ct]
            out[ct] = conc / conc.sum(-1, keepdim=True)
        return out

    def sample(self, alphas: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """A Dirichlet sample per edge, as normalised Gamma draws (reparameterised)."""
        out = {}
        for ct, alpha in zip(self.method.masks, alphas):
            mask = self.method.masks[ct]
            conc = self.concentration(alpha)
            gamma = torch.distributions.Gamma(conc, torch.ones_like(conc)).rsample() * mask
            gamma = gamma.clamp_min(torch.finfo(gamma.dtype).tiny) * mask
            out[ct] = gamma / gamma.sum(-1, keepdim=True)
        return out
