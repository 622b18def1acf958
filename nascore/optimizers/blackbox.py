"""Black-box search: random search (``rs``) and Regularized Evolution (``re``, Real et al., AAAI 2019).

Architectures (one op per edge) are proposed by a sampler that knows nothing of the objective
(:mod:`~nascore.optimizers.components.evolution`) and scored by a short stand-alone training: the
candidate's network is trained from freshly initialised weights for ``eval_steps`` steps on the search's
training half (SGD at ``w_lr``, momentum, weight decay, gradient clipping), and its fitness is its
accuracy on the validation batches of the second half of those steps (BN running statistics, eval mode).
The test set is never involved.  The network is the search space's skeleton with one op per edge (the
supernet's single path, held by the optimizer apart from the runner's model); when a candidate beats
every earlier one, its weights are copied into the runner's model, so the run's validation accuracy is
that of the best architecture found so far, and it is what is derived.

The heatmap shows how often each op was proposed on each edge (``frequency``).  Weights are initialised
for each candidate from a seed drawn from the optimizer's own generator, and the sampler, the candidate's
network and its progress are in the state, so a resumed run continues exactly.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from nascore.config import SearchConfig
from nascore.networks.edges import EdgeFactory
from nascore.networks.sampled import SampledRows, single_path_factory
from nascore.optimizers.base import Batch, SearchOptimizer, StepStats
from nascore.optimizers.components.evolution import RandomSampler, RegularizedEvolution
from nascore.optimizers.components.ranking import Columns
from nascore.optimizers.components.sampling import FrequencyCounter, generator_for
from nascore.optimizers.components.weights import WeightTrainer
from nascore.spaces.base import SearchSpace


class RandomSearchOptimizer(SearchOptimizer):
    name = "rs"
    distribution_kind = "frequency"

    def __init__(self, space: SearchSpace, config: SearchConfig):
        super().__init__(space, config)
        self.generator = generator_for(config.seed, self.name)

    def make_sampler(self) -> RandomSampler:
        return RandomSampler(self.masks, generator_for(self.config.seed, f"{self.name}-sampler"))

    def edge_factory(self) -> EdgeFactory:
        return single_path_factory(self.space.ops, self.space.pool_bn)

    def setup(self, model: nn.Module, device: torch.device) -> None:
        self.model = model
        self.device = device
        self.masks = {ct: self.space.op_mask(ct).to(device) for ct in self.space.cell_types}
        self.sampler = self.make_sampler()
        self.counter = FrequencyCounter(self.masks)
        self.net = copy.deepcopy(model)  # the candidates' network
        self.best: tuple[Columns, float] | None = None
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
            self._start_candidate()
        return StepStats(loss, correct, count)

    # ---- what the run shows -------------------------------------------------------------
    def chosen(self) -> Columns:
        return self.best[0] if self.best is not None else self.current

    def forward_weights(self) -> dict[str, SampledRows]:
        return {ct: SampledRows(cols) for ct, cols in self.chosen().items()}

    def derive(self) -> Any:
        num_ops = len(self.space.ops)
        return self.space.derive({ct: SampledRows(cols).one_hot(num_ops) for ct, cols in self.chosen().items()})

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

    def make_sampler(self) -> RandomSampler:
        return RegularizedEvolution(self.masks, generator_for(self.config.seed, f"{self.name}-sampler"),
                                    population_size=self.config.population_size,
                                    sample_size=self.config.tournament_size)
