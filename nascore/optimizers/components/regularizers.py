"""Terms added to the architecture loss, registered by name.

* ``none``: the validation loss alone (DARTS).
* ``dirichlet_kl`` (DrNAS, Chen et al., ICLR 2021, section 2.3): ``kl_weight`` times the KL divergence of each
  edge's Dirichlet (concentration ``elu(alpha) + 1``, over its candidates) to the uniform Dirichlet prior
  (concentration 1); needs the Dirichlet relaxation.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from nascore.optimizers.components.registry import override_setting, registry
from nascore.settings import Settings, setting

REGULARIZERS = registry("regularizer", "Regulariser", "regularizer", "A term added to the architecture loss.")



class RegularizerSettings(Settings):
    """A term added to the architecture loss."""

    title = "Regulariser"

    regularizer: str | None = override_setting(REGULARIZERS, "Override the term added to the architecture loss.",
                                               source="the method's preset (drnas: dirichlet_kl, DrNAS section 2.3)")
    kl_weight: float = setting(1e-3, "Weight of DrNAS's KL term (regulariser dirichlet_kl).", ge=0,
                               source="DrNAS (Chen et al., ICLR 2021), section 4: 1e-3 (the authors' code)",
                               label="KL weight")


def dirichlet_kl_to_uniform(conc: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum over rows of KL(Dir(conc) || Dir(1)), each row over its candidates (``mask``) only."""
    m = mask.to(conc.dtype)
    a = torch.where(mask, conc, torch.ones_like(conc))  # masked entries: harmless placeholders, weighted 0
    a0 = (a * m).sum(-1)
    k = m.sum(-1)
    kl = (torch.lgamma(a0) - (torch.lgamma(a) * m).sum(-1) - torch.lgamma(k)
          + ((a - 1.0) * (torch.digamma(a) - torch.digamma(a0).unsqueeze(-1)) * m).sum(-1))
    return kl.sum()


#: ``penalty(method)``: the term for the method's current architecture parameters
Penalty = Callable[[Any], torch.Tensor | float]


def no_penalty(method: Any) -> float:
    return 0.0


def dirichlet_kl(method: Any) -> torch.Tensor:
    conc = method.relaxation.concentration
    return method.config.kl_weight * sum(dirichlet_kl_to_uniform(conc(a), method.masks[ct])
                                         for ct, a in method.alphas.items())


REGULARIZERS.add("none", no_penalty, "the validation loss alone", "DARTS (Liu et al., ICLR 2019), section 2.2")
REGULARIZERS.add("dirichlet_kl", dirichlet_kl, "KL of each edge's Dirichlet to the uniform prior",
                 "DrNAS (Chen et al., ICLR 2021), section 2.3", settings=(RegularizerSettings,))


def regularizer_error(name: str, relaxation: type) -> str | None:
    """Why ``name`` cannot regularise ``relaxation``, or None."""
    if name == "dirichlet_kl" and not hasattr(relaxation, "concentration"):
        return (f"the dirichlet_kl regulariser is a KL divergence between Dirichlet distributions; the "
                f"{relaxation.name} relaxation has none (use relaxation dirichlet)")
    return None
