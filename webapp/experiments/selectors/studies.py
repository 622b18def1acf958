"""What the dashboard reads of a study: its trials as result.json writes them, straight from Optuna's storage."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from webapp.experiments.models import Experiment


def study_result(experiment: "Experiment") -> dict[str, Any]:
    """``nascore.hpo.study.summarize`` of the experiment's study: best value, params and trial, and every trial
    (number, state complete/pruned/failed/running/waiting, value, params, epochs, learning curve, test accuracy)."""
    from nascore.hpo.study import summarize
    from webapp.experiments.services.optuna_storage import load_study

    return summarize(load_study(experiment), experiment.config)
