"""More black-box samplers (ask/tell, knowing nothing of the objective) and the registry of all of them.

* :class:`PolicySampler`: REINFORCE (Williams, 1992) on an independent categorical distribution per edge,
  the NAS-Bench-201 paper's REINFORCE baseline: a moving-average reward baseline, Adam on the logits.
* :class:`LocalSearch`: first-improvement hill climbing over one-edge changes, restarted at a random
  architecture at each local optimum; architectures already evaluated are not proposed again.

:data:`SAMPLERS` maps a method name (``rs``, ``re``, ``reinforce``, ``ls``) to a constructor, so a
search loop (the runner's optimizers, the table search) builds any of them the same way.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from nascore.optimizers.components.controller import moving_baseline
from nascore.optimizers.components.evolution import Columns, RandomSampler, RegularizedEvolution
from nascore.settings import Settings, setting


class PolicySampler(RandomSampler):
    """REINFORCE over one independent categorical distribution per edge row (logits start at zero: uniform).

    Each told fitness is the reward of its architecture: the logits take an Adam step along
    ``(reward - baseline) * grad log p(arch) + entropy_weight * grad entropy``, written out in closed form
    (``grad log p = onehot(arch) - p`` per row) on NumPy arrays.  The baseline is ENAS's
    (:func:`~nascore.optimizers.components.controller.moving_baseline`).  Autograd and ``torch.optim``
    would cost about 1.5 ms a query, thirty times a table lookup; this costs tens of microseconds.
    Samples are drawn with the caller's generator; the state holds logits, Adam moments and baseline.
    """

    name = "reinforce"
    BETAS = (0.9, 0.999)
    EPS = 1e-8

    def __init__(self, masks: dict[str, torch.Tensor], generator: torch.Generator, lr: float = 0.05,
                 baseline_decay: float = 0.9, entropy_weight: float = 0.0):
        super().__init__(masks, generator)
        self.lr, self.baseline_decay, self.entropy_weight = float(lr), float(baseline_decay), float(entropy_weight)
        self.allowed = {ct: m.numpy().astype(bool) for ct, m in self.masks.items()}
        self.logits = {ct: np.zeros(m.shape) for ct, m in self.allowed.items()}
        self.moments = {ct: (np.zeros(m.shape), np.zeros(m.shape)) for ct, m in self.allowed.items()}
        self.steps = 0
        self.baseline: float | None = None
        self._probs: dict[str, np.ndarray] | None = None  # of the current logits

    def probabilities(self) -> dict[str, np.ndarray]:
        """Edge x op probabilities of the policy (zero off the candidates)."""
        if self._probs is None:
            self._probs = {}
            for ct, z in self.logits.items():
                z = np.where(self.allowed[ct], z, -np.inf)
                e = np.exp(z - z.max(1, keepdims=True))
                self._probs[ct] = e / e.sum(1, keepdims=True)
        return self._probs

    def ask(self) -> Columns:
        arch = {}
        for ct, p in self.probabilities().items():
            u = torch.rand(p.shape[0], generator=self.generator, dtype=torch.float64).numpy()
            arch[ct] = np.minimum((np.cumsum(p, 1) < u[:, None]).sum(1), p.shape[1] - 1).tolist()
        return arch

    def tell(self, arch: Columns, fitness: float) -> None:
        super().tell(arch, fitness)
        self.baseline = moving_baseline(self.baseline, fitness, self.baseline_decay)
        advantage = float(fitness) - self.baseline
        self.steps += 1
        b1, b2 = self.BETAS
        for ct, p in self.probabilities().items():
            onehot = np.zeros_like(p)
            onehot[np.arange(p.shape[0]), arch[ct]] = 1.0
            ascent = advantage * (onehot - p)
            if self.entropy_weight:
                with np.errstate(divide="ignore", invalid="ignore"):
                    logp = np.where(p > 0, np.log(p), 0.0)
                entropy = -(p * logp).sum(1, keepdims=True)
                ascent += self.entropy_weight * (-p * (logp + entropy))
            grad = np.where(self.allowed[ct], -ascent, 0.0)  # of the loss, which Adam descends
            m, v = self.moments[ct]
            m *= b1
            m += (1 - b1) * grad
            v *= b2
            v += (1 - b2) * grad * grad
            m_hat, v_hat = m / (1 - b1 ** self.steps), v / (1 - b2 ** self.steps)
            self.logits[ct] -= self.lr * m_hat / (np.sqrt(v_hat) + self.EPS)
        self._probs = None

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "logits": {ct: z.copy() for ct, z in self.logits.items()},
                "moments": {ct: (m.copy(), v.copy()) for ct, (m, v) in self.moments.items()},
                "steps": self.steps, "baseline": self.baseline}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.logits = {ct: np.array(z, dtype=np.float64) for ct, z in state["logits"].items()}
        self.moments = {ct: (np.array(m, dtype=np.float64), np.array(v, dtype=np.float64))
                        for ct, (m, v) in state["moments"].items()}
        self.steps, self.baseline = int(state["steps"]), state["baseline"]
        self._probs = None


def _key(arch: Columns) -> tuple:
    return tuple((ct, tuple(cols)) for ct, cols in sorted(arch.items()))


class LocalSearch(RandomSampler):
    """Hill climbing: propose the current architecture's unseen one-edge neighbours in random order, move
    to the first that is better; at a local optimum (no better unseen neighbour) restart at random."""

    name = "ls"

    def __init__(self, masks: dict[str, torch.Tensor], generator: torch.Generator):
        super().__init__(masks, generator)
        self.mutable = [(ct, r) for ct, m in self.masks.items() for r in range(m.shape[0]) if int(m[r].sum()) > 1]
        self.current: tuple[Columns, float] | None = None
        self.queue: list[Columns] = []
        self.seen: set[tuple] = set()

    def neighbours(self, arch: Columns) -> list[Columns]:
        """Every architecture one edge away, in a random order."""
        out = []
        for ct, row in self.mutable:
            for col in self.candidates[ct][row]:
                if col != arch[ct][row]:
                    child = {c: list(v) for c, v in arch.items()}
                    child[ct][row] = col
                    out.append(child)
        order = torch.randperm(len(out), generator=self.generator).tolist()
        return [out[i] for i in order]

    def ask(self) -> Columns:
        while self.current is not None and self.queue:
            candidate = self.queue.pop(0)
            if _key(candidate) not in self.seen:
                return candidate
        self.current = None  # a local optimum: start again somewhere new
        for _ in range(100):
            arch = self.random_arch()
            if _key(arch) not in self.seen:
                return arch
        return self.random_arch()

    def tell(self, arch: Columns, fitness: float) -> None:
        super().tell(arch, fitness)
        self.seen.add(_key(arch))
        if self.current is None or fitness > self.current[1]:
            self.current = ({ct: list(c) for ct, c in arch.items()}, float(fitness))
            self.queue = self.neighbours(self.current[0])

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "current": self.current, "queue": [dict(a) for a in self.queue],
                "seen": sorted(self.seen)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.current = state["current"]
        self.queue = [dict(a) for a in state["queue"]]
        self.seen = set(state["seen"])


class SamplerSettings(Settings):
    """The settings of the black-box samplers; each takes the ones it needs."""

    title = "Black-box search"
    group = "blackbox"

    population_size: int = setting(20, "Regularized Evolution: members of the population (the oldest dies).", gt=0,
                                   source="NASBoard's choice", label='Population size')
    tournament_size: int = setting(5, "Regularized Evolution: members sampled to pick each parent.", gt=0,
                                   source="NASBoard's choice", label='Tournament size')
    reinforce_lr: float = setting(0.05, "REINFORCE: Adam's learning rate on the policy's logits.", gt=0,
                                  source="NASBoard's choice", label='REINFORCE learning rate')
    reinforce_baseline_decay: float = setting(0.9, "REINFORCE: decay of the rewards' moving-average baseline.",
                                              ge=0, lt=1, source="NASBoard's choice", label='REINFORCE baseline decay')


SAMPLERS: dict[str, Callable[[dict[str, torch.Tensor], torch.Generator, SamplerSettings], RandomSampler]] = {
    "rs": lambda masks, gen, s: RandomSampler(masks, gen),
    "re": lambda masks, gen, s: RegularizedEvolution(masks, gen, population_size=s.population_size,
                                                     sample_size=s.tournament_size),
    "reinforce": lambda masks, gen, s: PolicySampler(masks, gen, lr=s.reinforce_lr,
                                                     baseline_decay=s.reinforce_baseline_decay),
    "ls": lambda masks, gen, s: LocalSearch(masks, gen),
}
#: readable names of the samplers
SAMPLER_TITLES = {"rs": "Random search", "re": "Regularized Evolution", "reinforce": "REINFORCE", "ls": "Local search"}


def make_sampler(name: str, masks: dict[str, torch.Tensor], generator: torch.Generator,
                 settings: SamplerSettings | None = None) -> RandomSampler:
    """A sampler by method name (see :data:`SAMPLERS`)."""
    try:
        build = SAMPLERS[name]
    except KeyError:
        raise KeyError(f"unknown black-box method {name!r}; choose one of {', '.join(SAMPLERS)}") from None
    return build(masks, generator, settings or SamplerSettings())


def sampler_settings(config: Any) -> SamplerSettings:
    """The sampler settings of a search config (any object with the fields of :class:`SamplerSettings`)."""
    return SamplerSettings(**{name: getattr(config, name) for name in SamplerSettings.model_fields})
