"""DrNAS (Chen et al., ICLR 2021): the op weights of each edge are a Dirichlet sample.

The concentration of each edge is ``elu(alpha) + 1``; every search step draws the weights with the
reparameterised (implicit-gradient) sampler, so the architecture gradient reaches the concentration,
and the architecture loss adds ``drnas_kl`` (1e-3, the paper's) times the KL divergence to the
uniform Dirichlet prior (concentration 1).  Edges with fewer candidates than the space's ops draw
over their candidates only.  The heatmap and the derived architecture use the Dirichlet mean
(``concentration / sum``); the random numbers are the global generator's, which the runner checkpoints.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from nascore.optimizers.darts import DARTSOptimizer

#: the paper's weight of the KL regulariser
KL_WEIGHT = 1e-3


def dirichlet_kl_to_uniform(conc: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum over rows of KL(Dir(conc) || Dir(1)), each row over its candidates (``mask``) only."""
    m = mask.to(conc.dtype)
    a = torch.where(mask, conc, torch.ones_like(conc))  # masked entries: harmless placeholders, weighted 0
    a0 = (a * m).sum(-1)
    k = m.sum(-1)
    kl = (torch.lgamma(a0) - (torch.lgamma(a) * m).sum(-1) - torch.lgamma(k)
          + ((a - 1.0) * (torch.digamma(a) - torch.digamma(a0).unsqueeze(-1)) * m).sum(-1))
    return kl.sum()


class DrNASOptimizer(DARTSOptimizer):
    name = "drnas"
    distribution_kind = "dirichlet"
    second_order = False  # the architecture loss is a sample

    def concentration(self, alpha: torch.Tensor) -> torch.Tensor:
        return F.elu(alpha) + 1.0

    def weights_from(self, alphas: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """The Dirichlet mean of each edge (the deterministic relaxation)."""
        out = {}
        for ct, alpha in zip(self.alphas.keys(), alphas):
            conc = self.concentration(alpha) * self.masks[ct]
            out[ct] = conc / conc.sum(-1, keepdim=True)
        return out

    def distribution(self) -> dict[str, torch.Tensor]:
        return self.weights_from(list(self.alphas.values()))

    def sample_weights(self, alphas: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """A Dirichlet sample per edge, as normalised Gamma draws (reparameterised)."""
        out = {}
        for ct, alpha in zip(self.alphas.keys(), alphas):
            conc = self.concentration(alpha)
            gamma = torch.distributions.Gamma(conc, torch.ones_like(conc)).rsample() * self.masks[ct]
            gamma = gamma.clamp_min(torch.finfo(gamma.dtype).tiny) * self.masks[ct]
            out[ct] = gamma / gamma.sum(-1, keepdim=True)
        return out

    def arch_regularizer(self) -> torch.Tensor:
        return KL_WEIGHT * sum(dirichlet_kl_to_uniform(self.concentration(a), self.masks[ct])
                               for ct, a in self.alphas.items())
