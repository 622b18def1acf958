"""What the dashboard reads of a study: its trials as result.json writes them, straight from Optuna's storage."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from webapp.experiments.models import Experiment


def study_result(experiment: "Experiment") -> dict[str, Any]:
    """``nascore.hpo.study.summarize`` of the experiment's study: best value, params and trial, and every trial
    (number, state complete/pruned/failed/running/waiting, value, params, epochs, learning curve, test accuracy)."""
    from nascore.hpo.study import summarize
    from webapp.experiments.services.optuna_storage import load_study

    return summarize(load_study(experiment), experiment.config)


def study_and_result(experiment: "Experiment") -> tuple[Any, dict[str, Any]]:
    """A snapshot of the Optuna study in memory and its summary: its trials are read from the database once, then
    the summary and every figure (each of Optuna's plots reads all trials again) work on that snapshot."""
    import optuna

    from nascore.hpo.study import summarize
    from webapp.experiments.services.optuna_storage import load_study

    stored = load_study(experiment)
    snapshot = optuna.create_study(direction="maximize", study_name=stored.study_name)
    snapshot.add_trials(stored.get_trials(deepcopy=False))
    return snapshot, summarize(snapshot, experiment.config)


def stored_result(experiment: "Experiment") -> dict[str, Any]:
    """The result.json a finished study stored (baselines, ensemble, final); empty before."""
    from webapp.experiments.models import Result

    result = Result.objects.filter(experiment=experiment).only("raw").first()
    return result.raw if result is not None and isinstance(result.raw, dict) else {}


def studies_progress(experiments: Iterable["Experiment"]) -> dict[int, dict[str, Any]]:
    """For the list page: per study experiment, its trials by state and its best value, in one query on Optuna's
    tables (not a study load per row).  A study whose trials were never asked for is absent."""
    from sqlalchemy import bindparam, text
    from sqlalchemy.exc import SQLAlchemyError

    from nascore.hpo.study import STATES
    from webapp.experiments.services.optuna_storage import storage, study_name

    # Optuna's trial states (as its tables store them) by the engine's names; a waiting retry counts as running on
    # the list, as its trial is under way again
    state_keys = {**STATES, "WAITING": "running"}
    names = {study_name(e): e.pk for e in experiments if e.kind == "study"}
    if not names:
        return {}
    query = text(
        "SELECT s.study_name, t.state, COUNT(t.trial_id), MAX(v.value) FROM studies s "
        "JOIN trials t ON t.study_id = s.study_id "
        "LEFT JOIN trial_values v ON v.trial_id = t.trial_id AND v.objective = 0 "
        "WHERE s.study_name IN :names GROUP BY s.study_name, t.state"
    ).bindparams(bindparam("names", expanding=True))
    out: dict[int, dict[str, Any]] = {}
    try:
        with storage().engine.connect() as conn:
            rows = conn.execute(query, {"names": list(names)}).all()
    except SQLAlchemyError:  # Optuna's tables are created with the first study; before that there is nothing to show
        return {}
    for name, state, count, best in rows:
        entry = out.setdefault(names[name], {"complete": 0, "pruned": 0, "failed": 0, "running": 0, "best_value": None})
        key = state_keys.get(getattr(state, "name", str(state)), "other")
        entry[key] = entry.get(key, 0) + int(count)
        if key == "complete" and best is not None:
            entry["best_value"] = float(best)
    for entry in out.values():
        entry["done"] = entry["complete"] + entry["pruned"] + entry["failed"]
    return out


def compared_studies(experiments: Iterable["Experiment"]) -> list[dict[str, Any]]:
    """For the comparison page: each study's summary with its compute (all trials' epochs, and seconds from the
    trials' start and end times), in the given order."""
    out = []
    for exp in experiments:
        if exp.kind != "study":
            continue
        study, result = study_and_result(exp)
        seconds = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in study.get_trials(deepcopy=False)
                      if t.datetime_start is not None and t.datetime_complete is not None)
        out.append({"experiment": exp, "result": result, "seconds": round(seconds, 1)})
    return out


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
