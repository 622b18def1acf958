"""The parts of a search that run around the epoch loop, each in its own module, called through one interface.

The runner (:class:`nascore.runner.SearchRun`) knows no stage by name: it calls every stage of :data:`STAGES` at
the same points (the run's start, after each epoch, before each checkpoint, after the last epoch, when the result
is written), and a stage says with its :class:`~nascore.stages.base.Verdict` whether the loop goes on.  A stage
keeps what it must remember in the run's typed history (:mod:`nascore.search_history`), which checkpoints carry.
Adding a stage: a module and one entry here.
"""
from __future__ import annotations

from typing import Callable

from nascore.stages.base import SearchStage, Verdict
from nascore.stages.curvature import CurvatureStage
from nascore.stages.early_stop import EarlyStopStage
from nascore.stages.selection import SelectionStage

#: the stages of every search, in the order they are called (the early stop reads the curvature just measured)
STAGES: list[Callable[[], SearchStage]] = [CurvatureStage, EarlyStopStage, SelectionStage]


def build_stages() -> list[SearchStage]:
    return [make() for make in STAGES]


__all__ = ["STAGES", "SearchStage", "Verdict", "build_stages"]
