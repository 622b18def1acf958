"""What the dashboard reads of a study: its trials as result.json writes them, straight from Optuna's storage."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from webapp.experiments.models import Experiment


def study_result(experiment: "Experiment") -> dict[str, Any]:
    """``nascore.hpo.study.summarize`` of the experiment's study: best value, params and trial, and every trial
    (number, state complete/pruned/failed/running/waiting, value, params, epochs, learning curve, test accuracy)."""
    from nascore.hpo.study import summarize
    from webapp.experiments.services.optuna_storage import load_study

    return summarize(load_study(experiment), experiment.config)


def visible_studies(user: Any) -> "QuerySet[Experiment]":
    """The studies ``user`` may see: their own, every one for staff."""
    from webapp.experiments.models import Kind
    from webapp.experiments.selectors.experiments import visible_experiments

    return visible_experiments(user).filter(kind=Kind.STUDY)


def get_study(user: Any, pk: Any) -> "Experiment":
    """The study if ``user`` may see it; Http404 otherwise (another user's study, or an experiment of another kind)."""
    from django.http import Http404

    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("no such study") from None
    exp = visible_studies(user).filter(pk=pk).first()
    if exp is None:
        raise Http404("no such study")
    return exp


def study_trials(experiment: "Experiment") -> list[dict[str, Any]]:
    """Every trial of the study in order: number, state, value (a pruned one's last report), params, epochs run,
    intermediate values by epoch, test accuracy, started and completed times, why it failed, which lost trial it
    retries, and the worker that ran it."""
    from nascore.hpo.study import trial_record
    from webapp.experiments.services.optuna_storage import load_study

    out = []
    for t in load_study(experiment).get_trials(deepcopy=False):
        record = trial_record(t)
        out.append({
            "number": t.number, "state": record["state"], "value": record["value"], "params": dict(t.params),
            "epochs": record["epochs"],
            "intermediate_values": {str(e): v for e, v in sorted(t.intermediate_values.items())},
            "test_acc": record["test_acc"], "error": t.user_attrs.get("error"),
            "retry_of": t.system_attrs.get("failed_trial"), "worker": t.user_attrs.get("worker"),
            "started_at": _aware(t.datetime_start), "completed_at": _aware(t.datetime_complete),
        })
    return out


def _aware(value: Any) -> str | None:
    """Optuna's naive local time as an ISO 8601 time with its offset (UTC)."""
    from datetime import timezone

    return value.astimezone(timezone.utc).isoformat() if value is not None else None
