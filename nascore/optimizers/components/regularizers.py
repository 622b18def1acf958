"""Terms added to the architecture loss, registered by name.

* ``none``: the validation loss alone (DARTS), the architecture's Adam applying its weight decay
  ``alpha_weight_decay`` (an L2 penalty on alpha).
* ``dirichlet_kl`` (DrNAS, Chen et al., ICLR 2021, section 2.3): ``kl_weight`` times the KL divergence of each
  edge's Dirichlet (concentration ``elu(alpha) + 1``, over its candidates) to the uniform Dirichlet prior
  (concentration 1); needs the Dirichlet relaxation.  It *replaces* the L2 penalty: the architecture's Adam then
  has no weight decay, as in the authors' code (xiangning-chen/DrNAS ``architect.py:17-22``: ``reg_type == 'l2'``
  gives Adam ``weight_decay=reg_scale``, ``reg_type == 'kl'`` gives 0 and adds the KL in ``model._loss``).  The
  authors' default, in both of their spaces, is the L2 penalty (``201-space/train_search.py:57`` and
  ``DARTS-space/train_search.py:45``: ``--reg_type`` default ``'l2'``, ``--reg_scale`` 1e-3, which is
  ``alpha_weight_decay``'s default), so the drnas preset uses ``none``; ``regularizer dirichlet_kl`` is their
  ``--reg_type kl``.
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

    regularizer: str | None = override_setting(REGULARIZERS, "Override the term added to the architecture loss "
                                                            "(dirichlet_kl turns the alphas' weight decay off).",
                                               source="the method's preset (drnas: none, the L2 penalty of DrNAS's "
                                                      "code default reg_type l2; dirichlet_kl is its reg_type kl)")
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


REGULARIZERS.add("none", no_penalty, "the validation loss alone (the alphas' weight decay, an L2 penalty)",
                 "DARTS (Liu et al., ICLR 2019), section 2.2")
REGULARIZERS.add("dirichlet_kl", dirichlet_kl, "KL of each edge's Dirichlet to the uniform prior, instead of the "
                 "alphas' weight decay",
                 "DrNAS (Chen et al., ICLR 2021), section 2.3", settings=(RegularizerSettings,))


#: regularisers that replace the alphas' weight decay (the architecture Adam's L2 penalty) instead of adding to it
REPLACES_WEIGHT_DECAY = frozenset({"dirichlet_kl"})


def arch_weight_decay(regularizer: str, alpha_weight_decay: float) -> float:
    """The weight decay of the architecture's Adam under ``regularizer`` (DrNAS ``architect.py:17-22``)."""
    return 0.0 if regularizer in REPLACES_WEIGHT_DECAY else alpha_weight_decay


def regularizer_error(name: str, relaxation: type) -> str | None:
    """Why ``name`` cannot regularise ``relaxation``, or None."""
    if name == "dirichlet_kl" and not hasattr(relaxation, "concentration"):
        return (f"the dirichlet_kl regulariser is a KL divergence between Dirichlet distributions; the "
                f"{relaxation.name} relaxation has none (use relaxation dirichlet)")
    return None
