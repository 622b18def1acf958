"""Black-box search: random search (``rs``), Regularized Evolution (``re``, Real et al., AAAI 2019),
REINFORCE on a per-edge categorical policy (``reinforce``) and local search (``ls``).

Architectures (the space's: one op per edge, or DARTS cells of two inputs per node) are proposed by a sampler
that knows nothing of the objective
(:data:`~nascore.optimizers.components.samplers.SAMPLERS`).  With ``evaluator: table`` a run never comes
here: :mod:`nascore.benchmarks.runner` looks candidates up in a tabular benchmark.  With ``evaluator:
train`` (the default) each candidate is scored by a short stand-alone training: the
candidate's network is trained from freshly initialised weights for ``eval_steps`` steps on the search's
training half (SGD at ``w_lr``, momentum, weight decay, gradient clipping), and its fitness is its
accuracy on the validation batches of the second half of those steps (BN running statistics, eval mode).
The test set is never involved.  The network is the search space's skeleton with one op per edge (the
supernet's single path, held by the optimizer apart from the runner's model); when a candidate beats
every earlier one, its weights are copied into the runner's model, so the run's validation accuracy is
that of the best architecture found so far, and it is what is derived.

Each evaluated candidate is also reported as a ``query`` event (its validation accuracy and the best so
far), what a regret plot draws.  The heatmap shows how often each op was proposed on each edge
(``frequency``; REINFORCE shows its policy's probabilities).  Weights are initialised
for each candidate from a seed drawn from the optimizer's own generator, and the sampler, the candidate's
network and its progress are in the state, so a resumed run continues exactly.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from nascore.events import Event, Query
from nascore.networks.sampled import SampledRows
from nascore.optimizers.base import Batch, StepStats
from nascore.optimizers.components.evolution import RandomSampler
from nascore.optimizers.components.ranking import Columns
from nascore.optimizers.components.samplers import PolicySampler, SamplerSettings, make_sampler, sampler_settings
from nascore.optimizers.components.sampling import generator_for
from nascore.optimizers.components.weights import WeightTrainer
from nascore.optimizers.single_path import SinglePathOptimizer
from nascore.settings import Settings, setting
from nascore.spaces.base import SearchSpace


class TrainingEvaluatorSettings(Settings):
    """The train evaluator: each candidate's short stand-alone training."""

    title = "Black-box search"
    group = "blackbox"

    eval_steps: int = setting(100, "Training steps of each candidate's short stand-alone training (scored on "
                                   "the validation split over its second half).", gt=0, source="NASBoard's choice", label='Training steps per candidate')


class RandomSearchOptimizer(SinglePathOptimizer):
    name = "rs"
    distribution_kind = "frequency"
    black_box = True
    settings = (TrainingEvaluatorSettings, SamplerSettings)

    def make_sampler(self) -> RandomSampler:
        return make_sampler(self.name, self.space.architecture_rule(),
                            generator_for(self.config.seed, f"{self.name}-sampler"), sampler_settings(self.config))

    def setup(self, model: nn.Module, device: torch.device) -> None:
        super().setup(model, device)
        self.sampler = self.make_sampler()
        self.net = copy.deepcopy(model)  # the candidates' network
        self.best: tuple[Columns, float] | None = None
        self.events: list[Event] = []
        self._start_candidate()

    # ---- one candidate ----------------------------------------------------------------
    def _start_candidate(self) -> None:
        self.current = self.sampler.ask()
        self.counter.add(self.current)
        self.done, self.correct, self.count = 0, 0, 0
        seed = int(torch.randint(2**62, (1,), generator=self.generator))
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            for module in self.net.modules():
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.reset_running_stats()
        self.trainer = WeightTrainer(self.net, self.config)  # fresh SGD state, constant learning rate

    def step(self, train: Batch, val: Batch) -> StepStats:
        weights = {ct: SampledRows(cols) for ct, cols in self.current.items()}
        self.net.train()
        loss, correct, count = self.trainer.step(train, weights)
        self.done += 1
        steps = self.config.eval_steps
        if self.done > steps // 2:  # the second half of its training: score it
            self.net.eval()
            with torch.no_grad():
                x, y = val
                self.correct += int((self.net(x, weights).argmax(1) == y).sum())
                self.count += int(y.numel())
            self.net.train()
        if self.done >= steps:
            fitness = self.correct / max(self.count, 1)
            self.sampler.tell(self.current, fitness)
            if self.best is None or fitness > self.best[1]:
                self.best = ({ct: list(c) for ct, c in self.current.items()}, fitness)
                self.model.load_state_dict(self.net.state_dict())
            self.events.append(self._query_event(fitness))
            self._start_candidate()
        return StepStats(loss, correct, count)

    def _query_event(self, fitness: float) -> Query:
        assert self.best is not None
        history = self.sampler.history
        best_query = 1 + next(i for i, (_, f) in enumerate(history) if f == self.best[1])
        return Query(run=1, seed=self.config.seed, query=len(history), genotype=self._genotype(self.current),
                     valid_acc=100 * fitness, best_valid_acc=100 * self.best[1],
                     best_genotype=self._genotype(self.best[0]), best_query=best_query)

    def pop_events(self) -> list[Event]:
        events, self.events = self.events, []
        return events

    def _genotype(self, cols: Columns) -> Any:
        """The cell the candidate's network ran (on DARTS cells: its two inputs per node, the other edges off)."""
        return self.space.genotype_of_path(cols)

    # ---- what the run shows -------------------------------------------------------------
    def chosen(self) -> Columns:
        return self.best[0] if self.best is not None else self.current

    def forward_weights(self) -> dict[str, SampledRows]:
        return {ct: SampledRows(cols) for ct, cols in self.chosen().items()}

    def derive(self) -> Any:
        return self._genotype(self.chosen())

    def distribution(self) -> dict[str, torch.Tensor]:
        return self.counter.frequencies()

    def current_lr(self) -> float:
        return float(self.config.w_lr)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "sampler": self.sampler.state_dict(),
                "counter": self.counter.state_dict(), "net": self.net.state_dict(),
                "trainer": self.trainer.state_dict(), "current": self.current, "best": self.best,
                "progress": (self.done, self.correct, self.count)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.sampler.load_state_dict(state["sampler"])
        self.counter.load_state_dict(state["counter"])
        self.net.load_state_dict(state["net"])
        self.trainer.load_state_dict(state["trainer"])
        self.current, self.best = state["current"], state["best"]
        self.done, self.correct, self.count = state["progress"]


class RegularizedEvolutionOptimizer(RandomSearchOptimizer):
    name = "re"

    @classmethod
    def config_errors(cls, space: SearchSpace, config: dict[str, Any]) -> dict[str, str]:
        errors = super().config_errors(space, config)
        if config.get("tournament_size", 5) > config.get("population_size", 20):
            errors["tournament_size"] = (f"tournament_size ({config.get('tournament_size')}) must not exceed "
                                         f"population_size ({config.get('population_size')})")
        return errors


class ReinforceSearchOptimizer(RandomSearchOptimizer):
    """REINFORCE: a categorical policy per edge learns from each candidate's fitness (``reinforce_lr``)."""

    name = "reinforce"
    distribution_kind = "policy"

    def distribution(self) -> dict[str, torch.Tensor]:
        assert isinstance(self.sampler, PolicySampler)
        return {ct: torch.tensor(p, dtype=torch.float32) for ct, p in self.sampler.probabilities().items()}


class LocalSearchOptimizer(RandomSearchOptimizer):
    """Local search: hill climbing over one-edge changes with random restarts."""

    name = "ls"
