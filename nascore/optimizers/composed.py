"""A one-shot method composed of components: a relaxation, partial channels, edge normalisation, a perturbation, a
regulariser, an update schedule and a derivation (see :mod:`nascore.optimizers.presets` for the named methods).

Each search step: the architecture update the relaxation learns by (the gradient of the validation loss, first or
second order, for most; ProxylessNAS's binary gates; nothing for uniform paths) when the update schedule says so,
then one SGD step of the weights on what the relaxation samples (perturbed by SmoothDARTS when asked), then an
update that needs the new weights (ENAS's controller).  Everything random draws from the method's own generator
(seeded from the run's seed and the method's name) or from the global one that the runner checkpoints.
"""
from __future__ import annotations

from collections import OrderedDict

from typing import Any, Callable, ClassVar, Mapping, TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from nascore.events import Event, LogMessage
from nascore.networks.sampled import SampledRows
from nascore.optimizers.base import Batch, SearchOptimizer, StepStats
from nascore.optimizers.compatibility import composition_errors
from nascore.optimizers.components.cost import CostTerm
from nascore.optimizers.components.derivation import DERIVATIONS
from nascore.optimizers.components.edge_norm import EdgeNormalization
from nascore.optimizers.components.edges import edge_factory
from nascore.optimizers.components.perturb import build_perturbation
from nascore.optimizers.components.ranking import recalibrate_batch_norm
from nascore.optimizers.components.regularizers import REGULARIZERS, arch_weight_decay
from nascore.optimizers.components.relaxations import RELAXATIONS
from nascore.optimizers.components.sampling import FrequencyCounter, generator_for
from nascore.optimizers.components.update_schedule import arch_update_due, warmup_warning
from nascore.optimizers.components.weights import WeightTrainer
from nascore.optimizers.darts import ArchitectureGradient, grads_or_zeros
from nascore.optimizers.presets import Preset, Recipe, resolve
from nascore.settings import RunConfig
from nascore.spaces.base import SearchSpace

if TYPE_CHECKING:
    from nascore.config import SearchConfig
    from nascore.networks.edges import EdgeFactory


def _as_dict(config: Any) -> Mapping[str, Any]:
    return config.to_dict() if isinstance(config, RunConfig) else config


class ComposedOptimizer(ArchitectureGradient, SearchOptimizer):
    """A preset's components, overridden by the config (:func:`~nascore.optimizers.presets.resolve`)."""

    preset: ClassVar[Preset]

    def __init__(self, space: SearchSpace, config: SearchConfig):
        super().__init__(space, config)
        self.recipe: Recipe = resolve(self.preset, _as_dict(config))
        kind = RELAXATIONS[self.recipe.relaxation].impl
        self.relaxation = kind(self)
        self.derivation = DERIVATIONS[self.recipe.derivation].impl(self)
        self.regularizer = REGULARIZERS[self.recipe.regularizer].impl
        self.cost = CostTerm(self.recipe.cost_penalty, config)
        self.perturbation = build_perturbation(config)
        self.generator = generator_for(config.seed, self.name)
        self.distribution_kind = kind.distribution_kind
        self.continuous_weights = kind.continuous
        self.second_order = kind.deterministic

    @classmethod
    def config_errors(cls, space: SearchSpace, config: dict[str, Any]) -> dict[str, str]:
        return composition_errors(cls.name, resolve(cls.preset, config), space, config)

    @classmethod
    def selects_for(cls, config: Mapping[str, Any]) -> bool:
        return RELAXATIONS[resolve(cls.preset, config).relaxation].impl.selects_by_default

    def edge_factory(self) -> EdgeFactory:
        return edge_factory(self.space, self.relaxation.single_path, self.recipe.partial_channels)

    # ---- set-up -------------------------------------------------------------------------------------------
    def setup(self, model: nn.Module, device: torch.device) -> None:
        cfg = self.config
        self.model = model
        self.device = device
        self.masks = {ct: self.space.op_mask(ct).to(device) for ct in self.space.cell_types}
        #: how often each op was sampled on each edge (the heatmap of the relaxations without alphas)
        self.counter = FrequencyCounter(self.masks)
        # an OrderedDict keeps the space's cell-type order (a plain dict's keys would be sorted, and alphas would no
        # longer line up with the masks where cell types are not in alphabetical order)
        self.alphas = nn.ParameterDict(OrderedDict({ct: nn.Parameter(1e-3 * torch.randn(mask.shape, device=device))
                                        for ct, mask in self.masks.items()} if self.relaxation.has_alphas else {}))
        self.edge_norm = EdgeNormalization(self.space, device) if self.recipe.edge_normalization else None
        self.trainer = WeightTrainer(model, cfg)
        params = self.arch_parameters()
        self.alpha_optimizer = torch.optim.Adam(params, lr=cfg.alpha_lr, betas=(cfg.alpha_beta1, cfg.alpha_beta2),
                                                weight_decay=arch_weight_decay(self.recipe.regularizer,
                                                                               cfg.alpha_weight_decay)
                                                ) if params else None
        #: the latest validation and training batches: what one-shot derivations score on and recalibrate with
        self.rank_batch: Batch | None = None
        self.calib_batch: Batch | None = None
        self.keeps_batches = self.derivation.one_shot or not self.relaxation.has_alphas or self.relaxation.single_path
        self.steps = 0
        self.relaxation.setup(device)
        warning = warmup_warning(_as_dict(cfg))
        #: events for the runner (:meth:`pop_events`): a warm-up as long as the run is said once, at the first step
        self.events: list[Event] = [LogMessage(level="warning", message=warning)] if warning else []

    @property
    def w_optimizer(self) -> torch.optim.Optimizer:
        return self.trainer.optimizer

    @property
    def scheduler(self) -> Any:
        return self.trainer.scheduler

    @property
    def weight_params(self) -> list[torch.Tensor]:
        return self.trainer.params

    @property
    def betas(self) -> nn.ParameterDict:
        assert self.edge_norm is not None, "no edge normalisation in this method"
        return self.edge_norm.betas

    @property
    def node_rows(self) -> dict[str, list[list[int]]]:
        assert self.edge_norm is not None, "no edge normalisation in this method"
        return self.edge_norm.node_rows

    @property
    def controller(self) -> Any:
        """The learned controller (ENAS), if the relaxation has one (the selection stage samples from it)."""
        return getattr(self.relaxation, "controller", None)

    # ---- the weights the supernet runs on ------------------------------------------------------------------
    def arch_parameters(self) -> list[torch.Tensor]:
        betas = list(self.edge_norm.betas.values()) if self.edge_norm is not None else []
        return list(self.alphas.values()) + betas

    def relaxed(self) -> bool:
        return self.relaxation.has_alphas

    def _with_edges(self, weights: dict[str, Any], params: list[torch.Tensor]) -> dict[str, Any]:
        return weights if self.edge_norm is None else self.edge_norm.wrap(weights, params[len(self.alphas):])

    def weights_from(self, params: list[torch.Tensor]) -> dict[str, Any]:
        if not self.relaxation.has_alphas:
            return super().weights_from(params)
        return self._with_edges(self.relaxation.weights_from(params[: len(self.alphas)]), params)

    def sample_weights(self, params: list[torch.Tensor]) -> dict[str, Any]:
        """What the supernet runs on in a search step (a sample for stochastic relaxations)."""
        return self._with_edges(self.relaxation.sample(params[: len(self.alphas)]), params)

    def arch_regularizer(self) -> torch.Tensor | float:
        return self.regularizer(self)

    # ---- the hardware-cost term (ProxylessNAS, section 3.3) ----------------------------------------------------
    def prepare_cost(self, image: tuple[int, ...]) -> None:
        """Measure the cost table for inputs of ``image`` (C, H, W): once per run, when a cost term is on."""
        self.cost.prepare(self.model, list(self.space.ops), self.masks, tuple(int(s) for s in image))

    def cost_grads(self) -> list[torch.Tensor] | None:
        """The gradient of the cost term w.r.t. :meth:`arch_parameters` (None when there is no term)."""
        if not self.cost.active:
            return None
        params = self.arch_parameters()
        term = self.cost.loss(self.relaxation.distribution())
        return grads_or_zeros(term, params)

    def expected_cost(self) -> dict[str, Any] | None:
        """The expected cost of the current distribution, its reference and unit (None without a cost table)."""
        if self.cost.table is None:
            return None
        with torch.no_grad():
            value = float(self.cost.expected(self.relaxation.distribution()))
        return {"cost_model": self.cost.model_name, "unit": self.cost.unit, "expected": value,
                "reference": self.cost.reference, "weight": self.cost.weight, "penalty": self.cost.penalty}

    def val_loss(self, val: Batch) -> torch.Tensor:
        x, y = val
        return F.cross_entropy(self.model(x, self.sample_weights(self.arch_parameters())), y) + self.arch_regularizer()

    def train_weights(self, train: Batch) -> dict[str, Any]:
        """The (detached) weights of a weight step, perturbed when a perturbation is configured."""
        with torch.no_grad():
            weights = self.sample_weights([a.detach() for a in self.arch_parameters()])
        if self.perturbation is not None:
            weights = self.perturbation(self.model, weights, self.masks, train, self.epochs_done(), self.config.epochs)
        return weights

    # ---- one search step --------------------------------------------------------------------------------------
    def step(self, train: Batch, val: Batch) -> StepStats:
        self.model.train()
        due = arch_update_due(self.epochs_done(), self.steps, self.recipe.warmup_epochs, self.recipe.arch_every)
        if due and self.cost.active and self.cost.table is None:
            self.prepare_cost(tuple(val[0].shape[1:]))
        if due:
            self.relaxation.update_before(train, val)
        stats = self.weight_step(train)
        if due:
            self.relaxation.update_after(train, val)
        if self.keeps_batches:
            self.rank_batch, self.calib_batch = val, train
        self.steps += 1
        return stats

    def epoch_update(self, next_val: Callable[[], Batch]) -> None:
        """After the epoch's weight steps: the relaxations that learn once per epoch (ENAS's controller), unless the
        epoch was a warm-up one."""
        if arch_update_due(self.epochs_done(), 0, self.recipe.warmup_epochs, 1):
            self.relaxation.update_epoch(next_val)

    def weight_step(self, train: Batch) -> StepStats:
        return StepStats(*self.trainer.step(train, self.train_weights(train)))

    def pop_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    # ---- what the search reports --------------------------------------------------------------------------------
    def distribution(self) -> dict[str, torch.Tensor]:
        return self.relaxation.distribution()

    def raw_alphas(self) -> dict[str, torch.Tensor] | None:
        return self.relaxation.raw_alphas()

    def forward_weights(self) -> dict[str, Any]:
        """What the supernet is validated on.  A single path (the derivation's choice; GDAS's and ProxylessNAS's most
        likely op per edge) runs after SPOS's BN recalibration on the latest training batch (Guo et al., section
        3.3): the running statistics were averaged over the other paths trained, each op's only over the steps that
        sampled it, and validating a path on them measured those statistics, not the path (GDAS validated at chance)."""
        chosen = self.derivation.choose()
        if chosen is None:
            with torch.no_grad():
                betas = [b.detach() for b in self.arch_parameters()]
                weights = self._with_edges(self.relaxation.validation_weights(), betas)
            if not all(isinstance(w, SampledRows) for w in weights.values()):
                return weights
        else:
            weights = {ct: SampledRows(cols) for ct, cols in chosen.items()}
        if self.calib_batch is not None:
            recalibrate_batch_norm(self.model, weights, [self.calib_batch])
        return weights

    def derive(self) -> Any:
        chosen = self.derivation.choose()
        if chosen is not None:  # the cell the supernet validates on, exactly
            return self.space.genotype_of_path(chosen)
        dist = self.distribution()
        return self.space.derive(dist if self.edge_norm is None else self.edge_norm.strengths(dist))

    # ---- bookkeeping --------------------------------------------------------------------------------------------
    def epochs_done(self) -> int:
        return self.trainer.epochs_done

    def end_epoch(self, epoch: int) -> None:
        self.trainer.scheduler.step()
        self.relaxation.end_epoch()

    def current_lr(self) -> float:
        return self.trainer.lr

    def weight_decay(self) -> float:
        return self.trainer.weight_decay()

    def set_weight_decay(self, value: float) -> None:
        self.trainer.set_weight_decay(value)  # saved with the weights' optimizer state

    def state_dict(self) -> dict[str, Any]:
        keep = lambda b: None if b is None else tuple(t.detach().cpu().clone() for t in b)  # noqa: E731
        state: dict[str, Any] = {"w_optimizer": self.trainer.optimizer.state_dict(),
                                 "scheduler": self.trainer.scheduler.state_dict(), "generator": self.generator.get_state(),
                                 "counter": self.counter.state_dict(), "steps": self.steps}
        if self.alphas:
            state["alphas"] = {ct: a.detach().clone() for ct, a in self.alphas.items()}
        if self.alpha_optimizer is not None:
            state["alpha_optimizer"] = self.alpha_optimizer.state_dict()
        if self.edge_norm is not None:
            state["betas"] = {ct: b.detach().clone() for ct, b in self.edge_norm.betas.items()}
        if self.keeps_batches:
            state["rank_batch"], state["calib_batch"] = keep(self.rank_batch), keep(self.calib_batch)
        return {**state, **self.cost.state_dict(), **self.relaxation.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Also reads the layouts written before the methods were composed: DARTS's (no generator, counter or
        step count) and the weight-sharing methods' (the weights' optimizer under ``trainer``)."""
        weights = state.get("trainer") or {"optimizer": state["w_optimizer"], "scheduler": state["scheduler"]}
        self.trainer.load_state_dict(weights)
        if "generator" in state:
            self.generator.set_state(state["generator"])
        if "counter" in state:
            self.counter.load_state_dict(state["counter"])
        self.steps = int(state.get("steps", 0))
        with torch.no_grad():
            for ct, value in state.get("alphas", {}).items():
                self.alphas[ct].copy_(value)
            for ct, value in state.get("betas", {}).items():
                self.betas[ct].copy_(value)
        if self.alpha_optimizer is not None:
            self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        back = lambda b: None if b is None else tuple(t.to(self.device) for t in b)  # noqa: E731
        self.rank_batch, self.calib_batch = back(state.get("rank_batch")), back(state.get("calib_batch"))
        self.cost.load_state_dict(state)
        self.relaxation.load_state_dict(state)
        getattr(self.derivation, "forget", lambda: None)()


def preset_class(preset: Preset, settings: tuple[type, ...]) -> type[ComposedOptimizer]:
    """The optimizer class of a preset (what ``OPTIMIZERS[name]`` holds); its class attributes describe the preset
    as it is, an instance's describe it with the config's overrides."""
    kind = RELAXATIONS[preset.relaxation].impl
    attrs = {"name": preset.name, "preset": preset, "distribution_kind": kind.distribution_kind,
             "continuous_weights": kind.continuous, "second_order": kind.deterministic,
             "uses_drop_path": preset.relaxation == "all_paths", "selects_by_default": kind.selects_by_default,
             "settings": settings, "__doc__": f"{preset.paper}: a preset of components.", "__module__": __name__}
    return type(f"{preset.name.upper()}Optimizer", (ComposedOptimizer,), attrs)
