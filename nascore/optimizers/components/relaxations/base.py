"""What a relaxation is: how a one-shot method turns its architecture parameters into what the supernet runs on.

A relaxation owns the meaning of the architecture parameters (``alpha``, one row per edge, one column per op of
the space): the weights of a search step (:meth:`Relaxation.sample`), the deterministic relaxation that curvature
and perturbations differentiate (:meth:`Relaxation.weights_from`), the distribution the heatmap shows, the weights
the supernet is validated on, and, when they do not learn from the validation loss's gradient, how they learn.
The method (:class:`~nascore.optimizers.composed.ComposedOptimizer`) holds the parameters, the generator and the
optimizers; a relaxation reads them through ``self.method``.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, TYPE_CHECKING

import torch
from torch.nn import functional as F

from nascore.networks.sampled import SampledRows
from nascore.optimizers.components.registry import override_setting, registry
from nascore.settings import Settings

if TYPE_CHECKING:
    from nascore.optimizers.base import Batch
    from nascore.optimizers.composed import ComposedOptimizer

Columns = dict[str, list[int]]

RELAXATIONS = registry("relaxation", "Relaxation", "relaxation",
                       "What each edge's architecture parameters become in a search step, and how they learn.")



class RelaxationSettings(Settings):
    """Which relaxation of the architecture a one-shot method uses (each preset has its own)."""

    title = "Relaxation"

    relaxation: str | None = override_setting(RELAXATIONS, "Override the method's relaxation of the architecture.",
                                              source="the method's preset (each cites its paper)")


class Relaxation:
    """The default is DARTS's continuous relaxation: a softmax over each edge's candidates, learned from the
    gradient of the validation loss."""

    name: ClassVar[str] = ""
    #: what the heatmap shows (``SearchOptimizer.distribution_kind``)
    distribution_kind: ClassVar[str] = "softmax"
    #: edges compute one chosen op when given one (``SinglePathOp``) instead of the weighted sum of all
    single_path: ClassVar[bool] = False
    #: the supernet runs on continuous weights (edge x op rows): SmoothDARTS perturbations apply
    continuous: ClassVar[bool] = False
    #: there are architecture parameters ``alpha`` (edge x op), created by the method
    has_alphas: ClassVar[bool] = True
    #: the alphas learn from the gradient of the validation loss (first or second order); else :meth:`update_before`
    #: or :meth:`update_after` is the relaxation's own learning rule
    gradient: ClassVar[bool] = True
    #: the weights of a search step are a deterministic function of alpha (second-order gradients apply)
    deterministic: ClassVar[bool] = False
    #: it learns a distribution whose most likely architecture can be derived
    learns_distribution: ClassVar[bool] = True
    #: the selection stage runs by default (one-shot weights trained on sampled paths with no preference of their own)
    selects_by_default: ClassVar[bool] = False
    #: settings models this relaxation reads
    settings: ClassVar[tuple[type[Settings], ...]] = ()

    def __init__(self, method: ComposedOptimizer):
        self.method = method

    @classmethod
    def space_error(cls, space: Any) -> str | None:
        """Why this relaxation cannot run on ``space``, or None."""
        return None

    # ---- set-up and the weights --------------------------------------------------------------------------
    def setup(self, device: torch.device) -> None:
        """Create what the relaxation owns beyond the alphas (a controller)."""

    def masked_softmax(self, cell_type: str, alpha: torch.Tensor) -> torch.Tensor:
        return F.softmax(alpha.masked_fill(~self.method.masks[cell_type], float("-inf")), dim=-1)

    def weights_from(self, alphas: list[torch.Tensor]) -> dict[str, Any]:
        """The deterministic relaxation, differentiable in ``alphas`` (ordered like the method's cell types)."""
        return {ct: self.masked_softmax(ct, a) for ct, a in zip(self.method.masks, alphas)}

    def sample(self, alphas: list[torch.Tensor]) -> dict[str, Any]:
        """What the supernet runs on in a search step (a draw for stochastic relaxations)."""
        return self.weights_from(alphas)

    def distribution(self) -> dict[str, torch.Tensor]:
        """Edge x op probabilities per cell type (the heatmap)."""
        return {ct: self.masked_softmax(ct, a) for ct, a in self.method.alphas.items()}

    def raw_alphas(self) -> dict[str, torch.Tensor] | None:
        """The alphas whose masked softmax :meth:`distribution` is (masked-out ops NaN); None for a relaxation
        without alphas or one that overrides :meth:`distribution` with something else."""
        if not self.has_alphas or type(self).distribution is not Relaxation.distribution:
            return None
        return {ct: a.detach().masked_fill(~self.method.masks[ct], float("nan")) for ct, a in self.method.alphas.items()}

    def validation_weights(self) -> dict[str, Any]:
        """What the supernet is validated on (no gradient)."""
        return self.weights_from([a.detach() for a in self.method.alphas.values()])

    def most_likely(self) -> dict[str, SampledRows]:
        """The most likely op of each edge, as single paths."""
        return {ct: SampledRows(p.argmax(-1).tolist()) for ct, p in self.distribution().items()}

    def choose(self) -> Columns | None:
        """An architecture of the relaxation's own choosing (a controller's greedy decoding), or None when the
        architecture is derived from :meth:`distribution`."""
        return None

    # ---- learning rules other than the gradient ----------------------------------------------------------
    def update_before(self, train: Batch, val: Batch) -> None:
        """The architecture update that precedes the weight step (default: the gradient of the validation loss)."""
        self.method.gradient_arch_step(train, val)

    def update_after(self, train: Batch, val: Batch) -> None:
        """An architecture update after the weight step, on the weights it has just trained."""

    #: the architecture learns after each epoch of weight steps (:meth:`update_epoch`), not between them
    epoch_updates: ClassVar[bool] = False

    def update_epoch(self, next_val: Callable[[], Batch]) -> None:
        """An architecture update after the epoch's weight steps (ENAS's controller); ``next_val()`` is the next
        batch of the validation stream."""

    def end_epoch(self) -> None:
        """After each epoch (schedules on the edges)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (called after the method's own state is loaded)."""
