"""Experiments and results as plain JSON-ready dicts (for the API and the live page)."""
from __future__ import annotations

from typing import Any

from webapp.experiments.models import Experiment, Result
from webapp.experiments.presenters.genotypes import genotype_line
from webapp.experiments.services.curation import curation_dict


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def result_to_dict(result: Result | None, space: Any = None) -> dict[str, Any] | None:
    """``space``: the experiment's space (read from the result when not given), for the genotype's line."""
    if result is None:
        return None
    data = {
        "genotype": result.genotype,
        "genotype_text": genotype_line(result.genotype, space if space is not None else result.experiment.space),
        "train_acc": result.train_acc,
        "val_acc": result.val_acc,
        "best_val_acc": result.best_val_acc,
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "params": result.params,
        "arch_params": result.arch_params,
        "test_acc": result.test_acc,
        "epochs_completed": result.epochs_completed,
        "artifacts": sorted(result.artifacts or {}),
    }
    if result.flops is not None:
        data["flops"] = result.flops
    raw = result.raw if isinstance(result.raw, dict) else {}
    if raw.get("returned_epoch") is not None:  # DARTS-ES returned an earlier epoch's architecture
        data["returned_epoch"] = raw["returned_epoch"]
        data["last_genotype"] = raw.get("last_genotype")
    if isinstance(raw.get("collapse"), dict):
        data["collapse"] = raw["collapse"]
    if isinstance(raw.get("selection"), dict):  # the selection stage: candidates, rank correlations, the choice
        data["selection"] = raw["selection"]
        data["search_genotype"] = raw.get("search_genotype")
    return data


def experiment_to_dict(exp: Experiment, with_result: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": exp.pk,
        "name": exp.name,
        "owner": exp.owner.get_username(),
        "kind": exp.kind,
        "parent": exp.parent_id,
        "status": exp.status,
        "error": exp.error or None,
        "stop_reason": exp.stop_reason or None,
        "cancel_requested": exp.cancel_requested,
        "config": exp.config,
        "space": exp.space,
        "optimizer": exp.optimizer,
        "dataset": exp.dataset,
        "seed": exp.seed,
        "device_requested": exp.device_requested,
        "device": exp.device or None,
        "worker": exp.worker or None,
        "attempts": exp.attempts,
        "created_at": _iso(exp.created_at),
        "started_at": _iso(exp.started_at),
        "ended_at": _iso(exp.ended_at),
        "progress": exp.progress_dict(),
        "last_seq": exp.last_seq,
        **curation_dict(exp),
    }
    if with_result:
        data["retrains"] = [{"id": r.pk, "name": r.name, "status": r.status,
                             "test_acc": getattr(getattr(r, "result", None), "test_acc", None)}
                            for r in exp.retrains.select_related("result").order_by("created_at", "id")]
        data["result"] = result_to_dict(Result.objects.filter(experiment=exp).first(), exp.space)
    return data
