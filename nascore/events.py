"""Typed, versioned events that a run emits, and the sinks that receive them.

Every run emits the same events whichever sinks listen.  A sink is any callable
``sink(seq, event_dict)``; ``seq`` numbers the events of a run from 1 and is
stored in checkpoints, so a run resumed from epoch k re-emits the same numbers
for what it replays and a sink can upsert instead of duplicating.  A sink may
also offer ``truncate_after(seq)``, called once when a run resumes, to drop
what the interrupted attempt wrote after its last checkpoint.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

EVENT_VERSION = 1


class Sink(Protocol):
    def __call__(self, seq: int, event: dict[str, Any]) -> None: ...


@dataclass
class Event:
    """Base of all events; ``type`` names the subclass on the wire."""

    type: str = field(init=False, default="event")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["type"] = self.type
        data["v"] = EVENT_VERSION
        data["time"] = time.time()
        return data


@dataclass
class RunStarted(Event):
    config: dict
    versions: dict
    device: str
    epochs: int
    steps_per_epoch: int
    start_epoch: int = 0
    resumed: bool = False
    type: str = field(init=False, default="run_started")


@dataclass
class StepMetrics(Event):
    epoch: int
    step: int
    steps_per_epoch: int
    train_loss: float
    train_acc: float
    type: str = field(init=False, default="step")


@dataclass
class EpochMetrics(Event):
    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float
    type: str = field(init=False, default="epoch")


@dataclass
class ArchDistribution(Event):
    """Edge x op probabilities per cell type: ``{cell: {"edges": [...], "ops": [...], "weights": [[...]]}}``, with
    ``"alphas"`` (same shape, null for a masked-out op) where the weights are the softmax of raw architecture
    parameters (the DARTS family); sampled frequencies and controller probabilities have none."""

    epoch: int
    kind: str
    cells: dict
    type: str = field(init=False, default="arch")


@dataclass
class ExpectedCost(Event):
    """The expected hardware cost of the architecture distribution (ProxylessNAS, section 3.3): ``expected`` =
    sum over edges and ops of p * cost, in ``unit`` (ms for ``cost_model`` latency, MACs for flops), with the
    ``reference`` it is divided by and the term's ``weight`` (lambda) and ``penalty`` (none: measured, not
    penalised).  Emitted with each distribution when the run has a cost table."""

    epoch: int
    cost_model: str
    unit: str
    expected: float
    reference: float
    weight: float
    penalty: str
    type: str = field(init=False, default="expected_cost")


@dataclass
class GenotypeDerived(Event):
    """``skip_connections``/``parameter_free``: counts per cell type of the picked cell (the collapse symptom)."""

    epoch: int
    genotype: Any
    skip_connections: dict | None = None
    parameter_free: dict | None = None
    type: str = field(init=False, default="genotype")


@dataclass
class Curvature(Event):
    """Dominant eigenvalue (and Hutchinson trace; None when not estimated) of the Hessian of the validation
    loss w.r.t. the architecture parameters, on a fixed validation subset of ``samples`` examples.

    ``round``: regularization changes (DARTS-ADA) made before this point; ``iterations``: Hessian-vector
    products spent on the eigenvalue, ``hvps`` in all; ``converged``: the method's tolerance was met.
    ``earlier``/``later``/``ratio``: the early-stopping criterion at this point (mean eigenvalue of the k points
    before the last k, of the last k, and earlier / later; None until the round has 2k points), with the
    ``window`` k and ``threshold`` it was read with (RobustDARTS acts when ratio < threshold).
    """

    epoch: int
    eigenvalue: float
    trace: float | None
    round: int = 0
    method: str = "lanczos"
    iterations: int = 0
    hvps: int = 0
    converged: bool = True
    samples: int = 0
    seconds: float = 0.0
    earlier: float | None = None
    later: float | None = None
    ratio: float | None = None
    window: int | None = None
    threshold: float | None = None
    type: str = field(init=False, default="curvature")


@dataclass
class EarlyStop(Event):
    """DARTS-ES stopped the search at ``trigger_epoch`` and returns the architecture of ``returned_epoch``.

    ``earlier``/``later``: mean dominant eigenvalue over the ``window`` points before the last ``window``
    and over the last ``window``; the search stops when ``ratio`` = earlier / later < ``threshold``.
    """

    trigger_epoch: int
    returned_epoch: int
    earlier: float
    later: float
    ratio: float
    window: int
    threshold: float
    reason: str
    genotype: Any = None
    type: str = field(init=False, default="early_stop")


@dataclass
class RegularizationChange(Event):
    """DARTS-ADA: at ``trigger_epoch`` the search went back to ``restored_epoch`` and multiplied ``parameter``
    from ``old`` to ``new`` (change ``increase`` of at most ``max_increases``)."""

    trigger_epoch: int
    restored_epoch: int
    parameter: str
    old: float
    new: float
    increase: int
    max_increases: int
    earlier: float
    later: float
    ratio: float
    reason: str
    type: str = field(init=False, default="regularization_change")


@dataclass
class Selection(Event):
    """Choosing the final architecture after the search (:mod:`nascore.selection`).

    ``phase``: ``start`` (``samples`` distinct candidates drawn), ``rank`` (candidate ``index`` scored with the
    one-shot weights), ``retrain`` (epoch ``epoch`` of ``epochs`` of candidate ``index``'s stand-alone training),
    ``done`` (the summary: every candidate, the rank correlations over the ``top_k`` retrained, the ``chosen``
    index and its ``genotype``).  ``done``/``total`` count units of work (one per ranked candidate, one per
    stand-alone epoch), for a progress bar; ``candidate`` is the candidate the event is about, as in the result.
    """

    phase: str
    done: int
    total: int
    samples: int
    top_k: int
    epochs: int
    index: int | None = None
    epoch: int | None = None
    candidate: dict | None = None
    candidates: list | None = None
    chosen: int | None = None
    kendall_tau: float | None = None
    spearman: float | None = None
    genotype: Any = None
    seconds: float = 0.0
    type: str = field(init=False, default="selection")


@dataclass
class CheckpointSaved(Event):
    epoch: int
    path: str
    type: str = field(init=False, default="checkpoint")


@dataclass
class LogMessage(Event):
    level: str
    message: str
    type: str = field(init=False, default="log")


@dataclass
class RunFinished(Event):
    status: str  # "finished", "cancelled" or "stopped_early" (DARTS-ES)
    epoch: int
    result: dict
    type: str = field(init=False, default="finished")


@dataclass
class RunFailed(Event):
    epoch: int
    reason: str
    type: str = field(init=False, default="failed")


@dataclass
class Query(Event):
    """One architecture a black-box search evaluated (rs, re, reinforce, ls): what a regret plot needs.

    Accuracies in percent, as tabular benchmarks give them.  ``valid_acc`` is what the search sees (the
    table's validation accuracy, or the short training's); ``test_acc`` is the table's test accuracy (None
    when architectures are trained).  ``best_*`` describe the cell the search would return after this query
    (the best validation so far).  ``run`` (1-based) is the seeded run, ``seed`` its seed; ``cost`` and
    ``elapsed`` are simulated training seconds from the table (None when architectures are trained).
    """

    run: int
    seed: int
    query: int
    genotype: Any
    valid_acc: float
    best_valid_acc: float
    best_genotype: Any
    best_query: int
    test_acc: float | None = None
    best_test_acc: float | None = None
    cost: float | None = None
    elapsed: float | None = None
    type: str = field(init=False, default="query")


class JsonlSink:
    """Appends events to ``events.jsonl``, one JSON object per line with its ``seq``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, seq: int, event: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"seq": seq, **event}) + "\n")

    def truncate_after(self, seq: int) -> None:
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines() if line and json.loads(line)["seq"] <= seq]
        self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def read_events(path: str | os.PathLike) -> list[dict[str, Any]]:
    """All events of an ``events.jsonl`` file, in order."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


class EventBus:
    """Numbers events and hands them to every sink in order."""

    def __init__(self, sinks: list[Callable[[int, dict], None]], seq: int = 0):
        self.sinks = list(sinks)
        self.seq = seq

    def emit(self, event: Event) -> dict[str, Any]:
        self.seq += 1
        data = event.to_dict()
        for sink in self.sinks:
            sink(self.seq, data)
        return data

    def rewind(self, seq: int) -> None:
        """Continue numbering after ``seq`` (a resume) and let sinks drop later events."""
        self.seq = seq
        for sink in self.sinks:
            truncate = getattr(sink, "truncate_after", None)
            if truncate is not None:
                truncate(seq)
