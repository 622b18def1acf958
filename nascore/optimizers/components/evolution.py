"""Black-box architecture samplers that know nothing of the objective (optuna-style ask/tell).

An architecture is ``{cell_type: [column per edge row]}``; which ones are architectures of the space, how one is
drawn uniformly and what one mutation changes is the space's rule (:mod:`nascore.spaces.architectures`, from
``space.architecture_rule()``), so the samplers stay within the space's cells (DARTS: two inputs per node).  A
plain dict of op masks stands for the rule of one op per edge.

* :class:`RandomSampler`: uniform over the space's architectures.
* :class:`RegularizedEvolution` (Real et al., AAAI 2019): ``population_size`` random architectures
  first; then each new one is a mutation (the rule's: one op changed, or on DARTS cells also one input moved) of
  the best of ``sample_size`` members drawn from the population, and the oldest member dies (aging).

Both draw from their own CPU generator and save everything in :meth:`state_dict`.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

import torch

from nascore.spaces.architectures import Columns, OneOpPerEdge

#: what a sampler is built on: a space's rule, or op masks (one op per edge)
RuleOrMasks = OneOpPerEdge | dict[str, torch.Tensor]


def as_rule(rule: RuleOrMasks) -> OneOpPerEdge:
    return rule if isinstance(rule, OneOpPerEdge) else OneOpPerEdge(rule)


class RandomSampler:
    name = "rs"

    def __init__(self, rule: RuleOrMasks, generator: torch.Generator):
        self.rule = as_rule(rule)
        self.masks = self.rule.masks
        self.generator = generator
        self.history: list[tuple[Columns, float]] = []
        #: per cell type and edge row, the candidate columns
        self.candidates = self.rule.candidates

    def random_arch(self) -> Columns:
        """A uniform draw from the rule."""
        return self.rule.sample(self.generator)

    def ask(self) -> Columns:
        return self.random_arch()

    def tell(self, arch: Columns, fitness: float) -> None:
        self.history.append(({ct: list(c) for ct, c in arch.items()}, float(fitness)))

    def best(self) -> tuple[Columns, float]:
        if not self.history:
            raise ValueError("no architecture has been evaluated yet")
        return max(self.history, key=lambda item: item[1])

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "history": [(a, f) for a, f in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.history = [(a, f) for a, f in state["history"]]


class RegularizedEvolution(RandomSampler):
    name = "re"

    def __init__(self, rule: RuleOrMasks, generator: torch.Generator, population_size: int = 20,
                 sample_size: int = 5):
        super().__init__(rule, generator)
        if not 1 <= sample_size <= population_size:
            raise ValueError(f"sample_size ({sample_size}) must be between 1 and population_size ({population_size})")
        self.population_size, self.sample_size = population_size, sample_size
        self.population: deque[tuple[Columns, float]] = deque(maxlen=population_size)

    def mutate(self, arch: Columns) -> Columns:
        return self.rule.mutate(arch, self.generator)

    def ask(self) -> Columns:
        if len(self.population) < self.population_size:
            return self.random_arch()
        members = self.population
        picks = torch.randint(len(members), (self.sample_size,), generator=self.generator).tolist()
        parent = max((members[i] for i in picks), key=lambda item: item[1])[0]
        return self.mutate(parent)

    def tell(self, arch: Columns, fitness: float) -> None:
        super().tell(arch, fitness)
        self.population.append(self.history[-1])

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "population": list(self.population)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.population = deque(state["population"], maxlen=self.population_size)


def black_box_search(sampler: RandomSampler, objective: Callable[[Columns], float], budget: int) -> tuple[Columns, float]:
    """``budget`` evaluations of ``objective`` (higher is better) proposed by ``sampler``; the best found."""
    for _ in range(budget):
        arch = sampler.ask()
        sampler.tell(arch, objective(arch))
    return sampler.best()
