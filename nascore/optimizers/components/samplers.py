"""More black-box samplers (ask/tell, knowing nothing of the objective) and the registry of all of them.

* :class:`PolicySampler`: REINFORCE (Williams, 1992) on an independent categorical distribution per decision
  of the space's rule (per edge on NAS-Bench-201: the NAS-Bench-201 paper's REINFORCE baseline): a moving-average
  reward baseline, Adam on the logits.
* :class:`LocalSearch`: first-improvement hill climbing over the rule's one-step changes, restarted at a random
  architecture at each local optimum; architectures already evaluated are not proposed again.

:data:`SAMPLERS` maps a method name (``rs``, ``re``, ``reinforce``, ``ls``) to a constructor, so a
search loop (the runner's optimizers, the table search) builds any of them the same way.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from nascore.optimizers.components.controller import moving_baseline
from nascore.optimizers.components.evolution import Columns, RandomSampler, RegularizedEvolution, RuleOrMasks
from nascore.settings import Settings, setting


class PolicySampler(RandomSampler):
    """REINFORCE over one independent categorical distribution per decision row (logits start at zero: uniform).

    The space's rule (:mod:`nascore.spaces.architectures`) says which decisions make an architecture: one op per
    edge (the NAS-Bench-201 paper's baseline: one row of logits per edge), or on DARTS cells, per node, its inputs
    (one row of logits per input slot of each node, over the nodes, the ones already taken masked) and then an op
    per chosen edge (the row of that edge).  Each told fitness is the reward of its architecture: the logits take an
    Adam step along ``(reward - baseline) * grad log p(arch) + entropy_weight * grad entropy``, written out in closed
    form (``grad log p = onehot(choice) - p`` per decision made, ``p`` over the values allowed there) on NumPy
    arrays.  The baseline is ENAS's (:func:`~nascore.optimizers.components.controller.moving_baseline`).  Autograd
    and ``torch.optim`` would cost about 1.5 ms a query, thirty times a table lookup; this costs tens of
    microseconds.  Samples are drawn with the caller's generator; the state holds logits, Adam moments and baseline.
    """

    name = "reinforce"
    BETAS = (0.9, 0.999)
    EPS = 1e-8

    def __init__(self, rule: RuleOrMasks, generator: torch.Generator, lr: float = 0.05,
                 baseline_decay: float = 0.9, entropy_weight: float = 0.0):
        super().__init__(rule, generator)
        self.lr, self.baseline_decay, self.entropy_weight = float(lr), float(baseline_decay), float(entropy_weight)
        self.allowed = {ct: m.numpy().astype(bool) for ct, m in self.masks.items()}
        for ct, rows in self.candidates.items():  # the rule's candidates (DARTS cells: never none)
            self.allowed[ct] = np.zeros_like(self.allowed[ct])
            for r, row in enumerate(rows):
                self.allowed[ct][r, row] = True
        self.logits = {ct: np.zeros(m.shape) for ct, m in self.allowed.items()}
        self.moments = {ct: (np.zeros(m.shape), np.zeros(m.shape)) for ct, m in self.allowed.items()}
        #: the input decisions' logits, one row per ("input", node, slot) key, over the nodes (none per edge rule)
        # probed along one valid architecture: a made-up one (every input node 0) is no architecture of a sparse
        # graph, whose nodes need not all take node 0
        probe = self.rule.sample(torch.Generator().manual_seed(0))
        made = {ct: self.rule.values(ct, probe[ct]) for ct in self.masks}
        keys = {ct: sorted({self.rule.decision(ct, i, made[ct][:i])[1] for i in range(self.rule.num_decisions(ct))
                            if self.rule.decision(ct, i, made[ct][:i])[0] == "input"}) for ct in self.masks}
        #: the input decisions' keys in row order (the decisions made before one do not change its key)
        self.input_rows = {ct: {key: i for i, key in enumerate(ks)} for ct, ks in keys.items()}
        self.input_logits = {ct: np.zeros((len(ks), self.rule.num_nodes)) for ct, ks in keys.items()}
        self.input_moments = {ct: (np.zeros(z.shape), np.zeros(z.shape)) for ct, z in self.input_logits.items()}
        self.steps = 0
        self.baseline: float | None = None
        self._probs: dict[str, np.ndarray] | None = None  # of the current logits

    def probabilities(self) -> dict[str, np.ndarray]:
        """Edge x op probabilities of the policy (zero off the candidates; on DARTS cells, given the edge is kept)."""
        if self._probs is None:
            self._probs = {ct: _softmax(z, self.allowed[ct]) for ct, z in self.logits.items()}
        return self._probs

    def _row(self, ct: str, kind: str, key: Any) -> tuple[np.ndarray, int]:
        """The logits array and row a decision reads."""
        return (self.logits[ct], key) if kind == "op" else (self.input_logits[ct], self.input_rows[ct][key])

    def _decisions(self, ct: str, values: list[int] | None,
                   draws: list[float] | None) -> list[tuple[str, Any, list[int], int]]:
        """Each decision of cell ``ct`` as (kind, key, allowed, value): drawn with ``draws`` (uniforms) when
        ``values`` is None."""
        made: list[int] = []
        out = []
        for i in range(self.rule.num_decisions(ct)):
            kind, key, allowed = self.rule.decision(ct, i, made)
            if values is None:
                z, row = self._row(ct, kind, key)
                mask = np.zeros(z.shape[1], dtype=bool)
                mask[allowed] = True
                p = _softmax(z[row:row + 1], mask[None])[0]
                value = int(min((np.cumsum(p) < draws[i]).sum(), len(p) - 1))
            else:
                value = values[i]
            made.append(value)
            out.append((kind, key, allowed, value))
        return out

    def ask(self) -> Columns:
        arch = {}
        for ct in self.masks:
            u = torch.rand(self.rule.num_decisions(ct), generator=self.generator, dtype=torch.float64).tolist()
            values = [value for *_, value in self._decisions(ct, None, u)]
            arch[ct] = self.rule.columns(ct, values)
        return arch

    def tell(self, arch: Columns, fitness: float) -> None:
        super().tell(arch, fitness)
        self.baseline = moving_baseline(self.baseline, fitness, self.baseline_decay)
        advantage = float(fitness) - self.baseline
        self.steps += 1
        for ct in self.masks:
            ascent = {"op": np.zeros_like(self.logits[ct]), "input": np.zeros_like(self.input_logits[ct])}
            for kind, key, allowed, value in self._decisions(ct, self.rule.values(ct, arch[ct]), None):
                z, row = self._row(ct, kind, key)
                mask = np.zeros(z.shape[1], dtype=bool)
                mask[allowed] = True
                p = _softmax(z[row:row + 1], mask[None])[0]
                onehot = np.zeros_like(p)
                onehot[value] = 1.0
                step = advantage * (onehot - p)
                if self.entropy_weight:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        logp = np.where(p > 0, np.log(p), 0.0)
                    step += self.entropy_weight * (-p * (logp + (-(p * logp).sum())))
                ascent[kind][row] += np.where(mask, step, 0.0)
            self._adam(self.logits[ct], self.moments[ct], -ascent["op"])
            if self.input_logits[ct].size:
                self._adam(self.input_logits[ct], self.input_moments[ct], -ascent["input"])
        self._probs = None

    def _adam(self, z: np.ndarray, moments: tuple[np.ndarray, np.ndarray], grad: np.ndarray) -> None:
        """One Adam step of ``z`` in place on the gradient of the loss (dense: rows not decided on get a zero)."""
        b1, b2 = self.BETAS
        m, v = moments
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        v += (1 - b2) * grad * grad
        m_hat, v_hat = m / (1 - b1 ** self.steps), v / (1 - b2 ** self.steps)
        z -= self.lr * m_hat / (np.sqrt(v_hat) + self.EPS)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "logits": {ct: z.copy() for ct, z in self.logits.items()},
                "moments": {ct: (m.copy(), v.copy()) for ct, (m, v) in self.moments.items()},
                "input_logits": {ct: z.copy() for ct, z in self.input_logits.items()},
                "input_moments": {ct: (m.copy(), v.copy()) for ct, (m, v) in self.input_moments.items()},
                "steps": self.steps, "baseline": self.baseline}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.logits = {ct: np.array(z, dtype=np.float64) for ct, z in state["logits"].items()}
        self.moments = {ct: (np.array(m, dtype=np.float64), np.array(v, dtype=np.float64))
                        for ct, (m, v) in state["moments"].items()}
        for ct, z in state.get("input_logits", {}).items():  # states written before the rules: none
            self.input_logits[ct] = np.array(z, dtype=np.float64)
        for ct, (m, v) in state.get("input_moments", {}).items():
            self.input_moments[ct] = (np.array(m, dtype=np.float64), np.array(v, dtype=np.float64))
        self.steps, self.baseline = int(state["steps"]), state["baseline"]
        self._probs = None


def _softmax(z: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Row-wise softmax over the allowed entries (zero elsewhere)."""
    z = np.where(allowed, z, -np.inf)
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _key(arch: Columns) -> tuple:
    return tuple((ct, tuple(cols)) for ct, cols in sorted(arch.items()))


class LocalSearch(RandomSampler):
    """Hill climbing: propose the current architecture's unseen neighbours (the rule's one-step changes: an op, or on
    DARTS cells also an input) in random order, move to the first that is better; at a local optimum (no better
    unseen neighbour) restart at random."""

    name = "ls"

    def __init__(self, rule: RuleOrMasks, generator: torch.Generator):
        super().__init__(rule, generator)
        self.current: tuple[Columns, float] | None = None
        self.queue: list[Columns] = []
        self.seen: set[tuple] = set()

    def neighbours(self, arch: Columns) -> list[Columns]:
        """Every architecture one change away, in a random order."""
        out = self.rule.neighbours(arch)
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


SAMPLERS: dict[str, Callable[[RuleOrMasks, torch.Generator, SamplerSettings], RandomSampler]] = {
    "rs": lambda rule, gen, s: RandomSampler(rule, gen),
    "re": lambda rule, gen, s: RegularizedEvolution(rule, gen, population_size=s.population_size,
                                                    sample_size=s.tournament_size),
    "reinforce": lambda rule, gen, s: PolicySampler(rule, gen, lr=s.reinforce_lr,
                                                    baseline_decay=s.reinforce_baseline_decay),
    "ls": lambda rule, gen, s: LocalSearch(rule, gen),
}
#: readable names of the samplers
SAMPLER_TITLES = {"rs": "Random search", "re": "Regularized Evolution", "reinforce": "REINFORCE", "ls": "Local search"}


def make_sampler(name: str, rule: RuleOrMasks, generator: torch.Generator,
                 settings: SamplerSettings | None = None) -> RandomSampler:
    """A sampler by method name (see :data:`SAMPLERS`) over a space's rule (or op masks: one op per edge)."""
    try:
        build = SAMPLERS[name]
    except KeyError:
        raise KeyError(f"unknown black-box method {name!r}; choose one of {', '.join(SAMPLERS)}") from None
    return build(rule, generator, settings or SamplerSettings())


def sampler_settings(config: Any) -> SamplerSettings:
    """The sampler settings of a search config (any object with the fields of :class:`SamplerSettings`)."""
    return SamplerSettings(**{name: getattr(config, name) for name in SamplerSettings.model_fields})
