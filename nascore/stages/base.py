"""The interface every stage of a search offers the runner (see :mod:`nascore.stages`)."""
from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nascore.runner import SearchRun


class Verdict(Enum):
    GO_ON = "go_on"
    #: end the epoch loop after this epoch's checkpoint (DARTS-ES)
    STOP = "stop"
    #: the stage restored an earlier state and saved its checkpoint itself (DARTS-ADA)
    ROLLED_BACK = "rolled_back"


class SearchStage:
    """A stage does nothing unless it overrides a hook."""

    def start(self, run: "SearchRun") -> None:
        """When the run starts (after resuming): e.g. say why the stage is off."""

    def after_epoch(self, run: "SearchRun") -> Verdict:
        """After an epoch's metrics and architecture are recorded, before its checkpoint."""
        return Verdict.GO_ON

    def before_checkpoint(self, run: "SearchRun", state: dict[str, Any]) -> None:
        """With the state the checkpoint is about to hold (a stage may keep a copy)."""

    def after_search(self, run: "SearchRun") -> bool:
        """After the last epoch; False when the stop check ended the stage (the run is cancelled)."""
        return True

    def add_to_result(self, run: "SearchRun", result: dict[str, Any]) -> None:
        """Add the stage's outcome to ``result.json``."""
