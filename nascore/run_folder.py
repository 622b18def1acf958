"""The output folder every kind of search shares, and how a run starts, fails and ends in it.

A search that trains a network (:mod:`nascore.runner`) and a table search (:mod:`nascore.benchmarks.runner`)
keep different states, but the folder works the same for both: ``events.jsonl`` through an :class:`EventBus`,
``checkpoint.pt`` to resume from (it carries the sequence number to rewind the events to), ``result.json``
at the end, and a ``failed`` event whenever the run stops on an error.
"""
from __future__ import annotations

import json
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from nascore import checkpoint as ckpt
from nascore.config import SearchConfig, as_stored, defaults, effective, without_placement
from nascore.events import CheckpointSaved, EventBus, JsonlSink, RunFailed, RunFinished

#: what a run reports to a progress bar after each step: epoch, step, steps per epoch, loss
ProgressCallback = Callable[[int, int, int, float], None]

CHECKPOINT = "checkpoint.pt"
EVENTS = "events.jsonl"
RESULT = "result.json"


class SearchFailed(RuntimeError):
    """The search could not go on (an exception, a NaN loss); the message says why."""


@dataclass
class RunOutcome:
    status: str  # "finished", "cancelled" or "stopped_early" (DARTS-ES)
    result: dict[str, Any]
    out_dir: Path


def event_bus(out: Path, sinks: Sequence[Callable[[int, dict], None]]) -> EventBus:
    """Create ``out`` and a bus that writes every event to its ``events.jsonl`` before the other sinks."""
    out.mkdir(parents=True, exist_ok=True)
    return EventBus([JsonlSink(out / EVENTS), *sinks])


def clear_outputs(out: Path, *folders: str) -> None:
    """Forget a previous attempt (a run that does not resume): its checkpoint, events, result and ``folders``."""
    for name in (CHECKPOINT, CHECKPOINT + ckpt.PREVIOUS, EVENTS, RESULT):
        (out / name).unlink(missing_ok=True)
    for name in folders:
        shutil.rmtree(out / name, ignore_errors=True)


def tensor_rows(t: torch.Tensor, digits: int = 6) -> list[list[float]]:
    """A 2-d tensor as rounded rows of floats, as events and ``result.json`` hold distributions."""
    return [[round(float(v), digits) for v in row] for row in t.detach().float().cpu()]


# ---- checkpoints ------------------------------------------------------------------------------------
def checkpoint_state(bus: EventBus, epoch: int, cfg: SearchConfig, **parts: Any) -> dict[str, Any]:
    """A checkpoint's contents: ``parts`` plus what resuming needs.  Its ``seq`` counts the checkpoint event
    itself, so a resumed run numbers its next event after it."""
    return {"epoch": epoch, "seq": bus.seq + 1, "config": cfg.to_dict(), **parts}


def save_checkpoint(out: Path, bus: EventBus, state: dict[str, Any]) -> Path:
    """Write ``state`` as the folder's checkpoint (atomically, the one it replaces kept as ``checkpoint.pt.prev``)
    and announce it. A write that fails (a full disk, a folder that refuses writes) ends the run saying where and
    why; the previous checkpoint stays the latest, nothing half-written takes its name."""
    path = out / CHECKPOINT
    try:
        ckpt.save_atomic(state, path, keep_previous=True)
    except OSError as exc:
        raise SearchFailed(f"cannot write checkpoint to {path}: {exc.strerror or exc}") from exc
    bus.emit(CheckpointSaved(epoch=state["epoch"], path=str(path)))
    return path


def load_checkpoint(out: Path, map_location: Any = "cpu") -> dict[str, Any] | None:
    """The folder's checkpoint, or None when there is none to resume from. A latest checkpoint that cannot be
    read (truncated, corrupt) fails the run naming it rather than starting over or silently resuming from the one
    before: the previous checkpoint is kept untouched as ``checkpoint.pt.prev`` for a person to choose."""
    path = out / CHECKPOINT
    if not path.exists():
        return None
    try:
        return ckpt.load(path, map_location=map_location)
    except ckpt.CheckpointUnreadable as exc:
        prev = path.with_name(path.name + ckpt.PREVIOUS)
        kept = (f"; the previous checkpoint is kept as {prev} (rename it to {CHECKPOINT} to resume from it)"
                if prev.exists() else "; there is no previous checkpoint")
        raise SearchFailed(f"{exc}{kept}") from exc


def check_resumable(saved_config: dict[str, Any], cfg: SearchConfig, out: Path) -> None:
    """Refuse to continue a checkpoint written with other search settings (placement may differ); settings
    added since it was written count at their defaults."""
    saved = effective({**defaults(), **as_stored(saved_config)})
    if without_placement(saved) != without_placement(effective(cfg.to_dict())):
        raise SearchFailed(f"the checkpoint in {out} was written with another config; "
                           "use a new output folder or resume=False")


# ---- the end of a run -------------------------------------------------------------------------------
@contextmanager
def reporting_failures(bus: EventBus, epoch: Callable[[], int]) -> Iterator[None]:
    """End the run with a ``failed`` event at ``epoch()`` when the block raises; any error other than
    SearchFailed becomes one, its type in the reason, so callers need to catch only SearchFailed."""
    try:
        yield
    except SearchFailed as exc:
        bus.emit(RunFailed(epoch=epoch(), reason=str(exc)))
        raise
    except Exception as exc:  # any other error ends the run with its reason
        reason = f"{type(exc).__name__}: {exc}"
        bus.emit(RunFailed(epoch=epoch(), reason=reason))
        raise SearchFailed(reason) from exc


def finish_run(out: Path, bus: EventBus, status: str, epoch: int, result: dict[str, Any]) -> RunOutcome:
    """Write ``result.json`` (through a temporary file: a reader never sees half of it), then the
    ``finished`` event that tells listeners it is there."""
    tmp = out / (RESULT + ".tmp")
    tmp.write_text(json.dumps(result, indent=2), encoding="utf-8")
    tmp.replace(out / RESULT)
    bus.emit(RunFinished(status=status, epoch=epoch, result=result))
    return RunOutcome(status=status, result=result, out_dir=out)
