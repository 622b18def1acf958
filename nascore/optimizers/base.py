"""What every search method offers the runner, whatever the space.

An optimizer decides what each edge becomes (its edge factory), owns the architecture
parameters, makes one search step from a train batch and a val batch, reports the
current architecture distribution (edge x op probabilities, for the heatmap) and
derives the discrete architecture.  It knows nothing of a particular space: it sees
only ``space.ops``, ``space.cell_types``, ``space.op_mask``, ``space.derive`` and, to draw or report one
architecture at a time, the space's rule of what an architecture is (``space.sample_architecture``,
``space.architecture_rule``, ``space.genotype_of_path``, ``space.path_of``).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TYPE_CHECKING

import torch
from torch import nn
from torch.func import functional_call
from torch.nn import functional as F

from nascore.networks.edges import EdgeFactory
from nascore.spaces.base import SearchSpace

if TYPE_CHECKING:
    from nascore.config import SearchConfig

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class StepStats:
    """Loss and accuracy of the weight step's train batch (what the curves show)."""

    loss: float
    correct: int
    count: int


class SearchOptimizer(ABC):
    name: str = ""
    #: what the heatmap shows: "softmax" weights, "gumbel" or "dirichlet" means, "frequency" of samples,
    #: "policy" (a controller's probabilities)
    distribution_kind: str = "softmax"
    #: the supernet runs on continuous architecture weights, so SmoothDARTS perturbations apply
    continuous_weights: bool = False
    #: second-order (unrolled) architecture gradients are available (``order: 2``)
    second_order: bool = False
    #: the method trains with drop-path on its edges (``drop_path``, ``drop_path_schedule``)
    uses_drop_path: bool = False
    #: the search ends with the selection stage unless the config turns it off (nascore.selection): methods
    #: whose one-shot weights were trained on sampled paths and hold no architecture preference of their own
    selects_by_default: bool = False
    #: the settings models of the components this method is made of (the form shows them when it is chosen)
    settings: tuple[type, ...] = ()

    def __init__(self, space: SearchSpace, config: SearchConfig):
        self.space = space
        self.config = config
        self.model: nn.Module | None = None

    @classmethod
    def config_errors(cls, space: SearchSpace, config: dict[str, Any]) -> dict[str, str]:
        """Problems with running this method on ``space`` with ``config`` (settings already type-checked),
        as ``{field: message}``; a method that makes no sense on a space says so here, before anything runs."""
        errors: dict[str, str] = {}
        if config.get("order", 1) == 2 and not cls.second_order:
            errors["order"] = f"second-order gradients (order 2) are not available with the {cls.name} optimizer; use order 1"
        if config.get("perturb", "none") != "none" and not cls.continuous_weights:
            errors["perturb"] = (f"a SmoothDARTS perturbation needs a method whose supernet runs on continuous "
                                 f"architecture weights (darts, pcdarts, drnas); {cls.name} does not")
        if config.get("drop_path", 0) and not cls.uses_drop_path:
            errors["drop_path"] = f"drop_path applies to one-shot training (oneshot), not to the {cls.name} optimizer"
        mode = config.get("early_stop", "none")
        if mode != "none" and cls.weights_from is SearchOptimizer.weights_from:
            errors["early_stop"] = (f"the {cls.name} optimizer has no continuous architecture parameters "
                                    "to measure curvature on; early stopping needs them")
        elif mode == "ada" and cls.set_weight_decay is SearchOptimizer.set_weight_decay:
            errors["early_stop"] = f"the {cls.name} optimizer cannot change its weight decay, which 'ada' needs"
        return errors

    @classmethod
    def selects_for(cls, config: Any) -> bool:
        """Whether the selection stage runs by default for ``config`` (see :attr:`selects_by_default`)."""
        return cls.selects_by_default

    def relaxed(self) -> bool:
        """Whether :meth:`weights_from` is available (curvature and perturbations are built on it)."""
        return type(self).weights_from is not SearchOptimizer.weights_from

    @abstractmethod
    def edge_factory(self) -> EdgeFactory:
        """What each edge of the supernet becomes for this method."""

    @abstractmethod
    def setup(self, model: nn.Module, device: torch.device) -> None:
        """Create architecture parameters and the optimizers, once the supernet exists."""

    @abstractmethod
    def step(self, train: Batch, val: Batch) -> StepStats:
        """One search step: architecture update on ``val``, weight update on ``train``."""

    @abstractmethod
    def distribution(self) -> dict[str, torch.Tensor]:
        """Edge x op probabilities per cell type, columns in ``space.ops`` order."""

    def raw_alphas(self) -> dict[str, torch.Tensor] | None:
        """The raw architecture parameters whose softmax along each edge's row is :meth:`distribution`, per cell
        type (masked-out ops NaN), for the heatmap; None where the distribution is not a softmax of parameters
        (sampling frequencies, a controller's probabilities)."""
        return None

    def forward_weights(self) -> dict[str, torch.Tensor]:
        """The weights the supernet is evaluated with (validation, derivation)."""
        return self.distribution()

    def derive(self) -> Any:
        return self.space.derive(self.distribution())

    def epoch_update(self, next_val: Callable[[], Batch]) -> None:
        """After the epoch's steps, before it is validated: updates a method makes once per epoch (ENAS's
        controller); ``next_val()`` draws the next batch of the validation stream."""

    def end_epoch(self, epoch: int) -> None:
        """Called after each epoch (schedulers)."""

    def pop_events(self) -> list[Any]:
        """Events the method produced during the last step (black-box methods: one ``query`` per evaluated
        architecture), for the runner to emit in order; each is handed over once."""
        return []

    def current_lr(self) -> float:
        return float("nan")

    def arch_parameters(self) -> list[torch.Tensor]:
        """Continuous architecture parameters (curvature and perturbations need them); may be empty."""
        return []

    def weights_from(self, alphas: Sequence[torch.Tensor]) -> Any:
        """What the supernet's ``forward(x, weights)`` takes, as a differentiable function of ``alphas``
        (tensors shaped and ordered like :meth:`arch_parameters`, not necessarily those parameters).

        The deterministic relaxation the method optimises (DARTS: the masked softmax; a sampling method:
        its expected weights).  Methods with continuous architecture parameters implement it; curvature
        (RobustDARTS) and perturbation-based regularisers are built on it.
        """
        raise NotImplementedError(f"the {self.name or type(self).__name__} optimizer does not express its "
                                  "supernet weights as a function of continuous architecture parameters")

    def arch_loss(self, batch: Batch, alphas: Sequence[torch.Tensor] | None = None,
                  params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Mean cross-entropy of the supernet on ``batch``, differentiable w.r.t. ``alphas``
        (default: :meth:`arch_parameters`); ``params`` replace network weights by name
        (``torch.func.functional_call``; missing names keep the module's own)."""
        x, y = batch
        weights = self.weights_from(self.arch_parameters() if alphas is None else alphas)
        logits = self.model(x, weights) if params is None else functional_call(self.model, params, (x, weights))
        return F.cross_entropy(logits, y)

    def weight_decay(self) -> float:
        """The weight decay currently applied to the network weights."""
        return float(self.config.w_weight_decay)

    def set_weight_decay(self, value: float) -> None:
        """Apply ``value`` as the weight decay of the network weights from now on (DARTS-ADA);
        must be part of :meth:`state_dict` so that a resumed run keeps it."""
        raise NotImplementedError(f"the {self.name or type(self).__name__} optimizer cannot change its weight decay")

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: architecture parameters, optimizers, schedulers."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...
