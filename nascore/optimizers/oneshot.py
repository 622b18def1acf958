"""One-shot training without architecture parameters, then choosing an architecture with the shared weights.

* ``oneshot`` (Bender et al., ICML 2018): every step trains the whole supernet, each edge the plain sum of
  its candidate ops; with ``drop_path`` > 0 each op's output is dropped per example with that probability
  (DropPath), or with a probability rising linearly from 0 to ``drop_path`` over the epochs
  (``drop_path_schedule: linear``, ScheduledDropPath).
* ``rsws`` (Li and Talwalkar, UAI 2019, random search with weight sharing): every step trains one
  architecture drawn uniformly (one op per edge); the architecture is chosen by random search.
* ``spos`` (Guo et al., ECCV 2020, single-path one-shot): the same uniform single-path training; the
  architecture is chosen by an evolutionary search (regularized evolution) with the shared weights.

Choosing: ``derive_samples`` architectures are scored by their loss on the latest validation batch with the
one-shot weights (:func:`~nascore.optimizers.components.ranking.oneshot_scores`, batch statistics), the best
kept; the choice is cached per step and depends only on the run's seed, the step and that batch (saved in
the state), so a resumed run chooses the same.  The heatmap shows how often each op was sampled on each
edge (``frequency``; uniform for ``oneshot``, which trains every op every step); the supernet is validated
on the chosen architecture, after SPOS's BN recalibration on the latest training batch (running statistics
of a supernet trained on many paths do not fit one path).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nascore.networks.sampled import SampledRows, SinglePathOp
from nascore.optimizers.base import Batch, StepStats
from nascore.optimizers.components.evolution import RandomSampler, RegularizedEvolution, black_box_search
from nascore.optimizers.components.ranking import Columns, DerivationSettings, oneshot_scores, recalibrate_batch_norm
from nascore.optimizers.components.sampling import generator_for, uniform_columns
from nascore.optimizers.components.schedules import DropPathSettings, drop_path_rate
from nascore.optimizers.components.weights import WeightTrainer
from nascore.optimizers.single_path import SinglePathOptimizer


class WeightSharingOptimizer(SinglePathOptimizer):
    """Uniform single-path training (the ``rsws`` method); subclasses change how paths are sampled or chosen."""

    name = "rsws"
    distribution_kind = "frequency"
    selects_by_default = True
    settings = (DerivationSettings,)

    def setup(self, model: nn.Module, device: torch.device) -> None:
        super().setup(model, device)
        self.trainer = WeightTrainer(model, self.config)
        self.rank_batch: Batch | None = None  # the latest validation batch: what architectures are scored on
        self.calib_batch: Batch | None = None  # the latest training batch: BN recalibration
        self.steps = 0
        self._chosen: tuple[int, Columns] | None = None

    # ---- training ---------------------------------------------------------------------
    def sample_architecture(self) -> Columns:
        return {ct: uniform_columns(m, self.generator) for ct, m in self.masks.items()}

    def train_weights(self) -> dict[str, Any]:
        arch = self.sample_architecture()
        self.counter.add(arch)
        return {ct: SampledRows(cols) for ct, cols in arch.items()}

    def step(self, train: Batch, val: Batch) -> StepStats:
        self.model.train()
        loss, correct, count = self.trainer.step(train, self.train_weights())
        self.rank_batch, self.calib_batch = val, train
        self.steps += 1
        return StepStats(loss, correct, count)

    # ---- choosing -----------------------------------------------------------------------
    def searcher(self, generator: torch.Generator) -> RandomSampler:
        return RandomSampler(self.masks, generator)

    def choose(self) -> Columns:
        """The best of ``derive_samples`` architectures by one-shot validation loss (cached per step)."""
        if self._chosen is not None and self._chosen[0] == self.steps:
            return self._chosen[1]
        generator = generator_for(self.config.seed, f"{self.name}-choose-{self.steps}")
        sampler = self.searcher(generator)
        if self.rank_batch is None:  # nothing trained yet: any architecture
            best = sampler.random_arch()
        else:
            batch = self.rank_batch
            best, _ = black_box_search(sampler, lambda arch: -oneshot_scores(self.model, [arch], [batch])[0][0],
                                       self.config.derive_samples)
        self._chosen = (self.steps, best)
        return best

    def forward_weights(self) -> dict[str, SampledRows]:
        """The chosen architecture, BN statistics recalibrated for it."""
        weights = {ct: SampledRows(cols) for ct, cols in self.choose().items()}
        if self.calib_batch is not None:
            recalibrate_batch_norm(self.model, weights, [self.calib_batch])
        return weights

    def derive(self) -> Any:
        num_ops = len(self.space.ops)
        return self.space.derive({ct: SampledRows(cols).one_hot(num_ops) for ct, cols in self.choose().items()})

    def distribution(self) -> dict[str, torch.Tensor]:
        return self.counter.frequencies()

    # ---- bookkeeping --------------------------------------------------------------------
    def end_epoch(self, epoch: int) -> None:
        self.trainer.scheduler.step()

    def current_lr(self) -> float:
        return self.trainer.lr

    def weight_decay(self) -> float:
        return self.trainer.weight_decay()

    def set_weight_decay(self, value: float) -> None:
        self.trainer.set_weight_decay(value)

    def state_dict(self) -> dict[str, Any]:
        keep = lambda b: None if b is None else tuple(t.detach().cpu().clone() for t in b)
        return {"trainer": self.trainer.state_dict(), "generator": self.generator.get_state(),
                "counter": self.counter.state_dict(), "rank_batch": keep(self.rank_batch),
                "calib_batch": keep(self.calib_batch), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trainer.load_state_dict(state["trainer"])
        self.generator.set_state(state["generator"])
        self.counter.load_state_dict(state["counter"])
        back = lambda b: None if b is None else tuple(t.to(self.device) for t in b)
        self.rank_batch, self.calib_batch = back(state["rank_batch"]), back(state["calib_batch"])
        self.steps = int(state["steps"])
        self._chosen = None


RSWSOptimizer = WeightSharingOptimizer


class SPOSOptimizer(WeightSharingOptimizer):
    name = "spos"

    def searcher(self, generator: torch.Generator) -> RandomSampler:
        budget = self.config.derive_samples
        population = max(2, min(20, budget // 2))
        return RegularizedEvolution(self.masks, generator, population_size=population,
                                    sample_size=max(1, min(5, population // 2)))


class OneShotOptimizer(WeightSharingOptimizer):
    name = "oneshot"
    uses_drop_path = True
    settings = (DerivationSettings, DropPathSettings)

    def setup(self, model: nn.Module, device: torch.device) -> None:
        super().setup(model, device)
        self.all_ops = {ct: m.to(torch.float32) for ct, m in self.masks.items()}
        self._apply_drop_path()

    def current_drop_path(self) -> float:
        return drop_path_rate(self.config.drop_path, self.config.drop_path_schedule, self.trainer.epochs_done,
                              self.config.epochs)

    def _apply_drop_path(self) -> None:
        rate = self.current_drop_path()
        for module in self.model.modules():
            if isinstance(module, SinglePathOp):
                module.drop_prob = rate

    def train_weights(self) -> dict[str, Any]:
        return self.all_ops  # every candidate op, weight 1; drop-path inside the edges

    def end_epoch(self, epoch: int) -> None:
        super().end_epoch(epoch)
        self._apply_drop_path()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._apply_drop_path()
