"""HPO studies as plain JSON-ready dicts for the API: a list item from the Experiment row alone (no Optuna read, so
lists stay cheap), and the full study with what its storage says (best trial, states, baselines once finished)."""
from __future__ import annotations

from typing import Any

from django.urls import reverse

from webapp.experiments.models import Experiment, Result, Status
from webapp.experiments.services.curation import curation_dict

#: trial states a study counts, in the order pages show them
STATES = ("complete", "pruned", "failed", "running", "waiting")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def study_summary_dict(exp: Experiment) -> dict[str, Any]:
    """A study as lists show it: its settings in brief and its progress (trials ended of ``trials``)."""
    cfg = exp.config if isinstance(exp.config, dict) else {}
    curation = curation_dict(exp)
    return {
        "id": exp.pk, "name": exp.name, "owner": exp.owner.get_username(), "parent": exp.parent_id,
        "status": exp.status, "error": exp.error or None, "cancel_requested": exp.cancel_requested,
        "problem": cfg.get("problem", ""), "dataset": exp.dataset, "sampler": cfg.get("sampler", ""),
        "pruner": cfg.get("pruner", ""), "trials": exp.epochs, "trials_done": exp.epochs_done,
        "best_value": exp.best_val_acc, "last_value": exp.last_val_acc, "progress": exp.progress_dict(),
        "worker": exp.worker or None, "created_at": _iso(exp.created_at), "started_at": _iso(exp.started_at),
        "ended_at": _iso(exp.ended_at), "starred": curation["starred"], "archived": curation["archived"],
        "tags": curation["tags"],
    }


def study_to_dict(exp: Experiment, summary: dict[str, Any]) -> dict[str, Any]:
    """The whole study: ``summary`` is ``selectors.studies.study_result`` (Optuna's storage, read now)."""
    data = study_summary_dict(exp)
    trials = summary.get("trials", [])
    data.update({
        "settings": exp.config,
        "best_value": summary.get("best_value"), "best_params": summary.get("best_params"),
        "best_trial": summary.get("best_trial"), "best_test_acc": summary.get("best_test_acc"),
        "states": {state: sum(t["state"] == state for t in trials) for state in STATES},
        "epochs": summary.get("epochs", 0),
        "links": {"api": reverse("api:study", args=[exp.pk]), "trials": reverse("api:study_trials", args=[exp.pk]),
                  "experiment": reverse("api:detail", args=[exp.pk]),
                  "page": reverse("experiments:detail", args=[exp.pk])},
    })
    if exp.status in (Status.FINISHED, Status.FAILED):
        raw = Result.objects.filter(experiment=exp).values_list("raw", flat=True).first()
        if isinstance(raw, dict):
            data["baselines"] = raw.get("baselines") or {}
            if raw.get("final") is not None:
                data["final"] = raw["final"]
    return data
