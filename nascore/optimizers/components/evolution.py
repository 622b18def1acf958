"""Black-box architecture samplers that know nothing of the objective (optuna-style ask/tell).

An architecture is ``{cell_type: [column per edge row]}`` over a space's op masks.

* :class:`RandomSampler`: uniform over each edge's candidates.
* :class:`RegularizedEvolution` (Real et al., AAAI 2019): ``population_size`` random architectures
  first; then each new one is a mutation (one edge's op changed to another candidate) of the best of
  ``sample_size`` members drawn from the population, and the oldest member dies (aging).

Both draw from their own CPU generator and save everything in :meth:`state_dict`.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

import torch

Columns = dict[str, list[int]]


def _choice(n: int, generator: torch.Generator) -> int:
    return int(torch.randint(n, (1,), generator=generator))


class RandomSampler:
    name = "rs"

    def __init__(self, masks: dict[str, torch.Tensor], generator: torch.Generator):
        self.masks = {ct: m.detach().cpu().bool() for ct, m in masks.items()}
        self.generator = generator
        self.history: list[tuple[Columns, float]] = []
        #: per cell type and edge row, the candidate columns
        self.candidates = {ct: [torch.nonzero(row).flatten().tolist() for row in m] for ct, m in self.masks.items()}

    def random_arch(self) -> Columns:
        """One candidate per edge, uniformly (one uniform draw per edge: ``torch.multinomial`` costs ten times
        more, which shows when a tabular benchmark makes evaluations free)."""
        out = {}
        for ct, rows in self.candidates.items():
            draws = torch.rand(len(rows), generator=self.generator, dtype=torch.float64).tolist()
            out[ct] = [row[min(int(u * len(row)), len(row) - 1)] for row, u in zip(rows, draws)]
        return out

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

    def __init__(self, masks: dict[str, torch.Tensor], generator: torch.Generator, population_size: int = 20,
                 sample_size: int = 5):
        super().__init__(masks, generator)
        if not 1 <= sample_size <= population_size:
            raise ValueError(f"sample_size ({sample_size}) must be between 1 and population_size ({population_size})")
        self.population_size, self.sample_size = population_size, sample_size
        self.population: deque[tuple[Columns, float]] = deque(maxlen=population_size)
        # (cell type, row) of every edge with a choice to make
        self.mutable = [(ct, r) for ct, m in self.masks.items() for r in range(m.shape[0]) if int(m[r].sum()) > 1]

    def mutate(self, arch: Columns) -> Columns:
        child = {ct: list(c) for ct, c in arch.items()}
        if not self.mutable:
            return child
        ct, row = self.mutable[_choice(len(self.mutable), self.generator)]
        others = [c for c in self.candidates[ct][row] if c != child[ct][row]]
        child[ct][row] = others[_choice(len(others), self.generator)]
        return child

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
