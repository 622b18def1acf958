"""Exports: a list of experiments as CSV or JSON rows, and an experiment's event history as JSON Lines.

``experiment_rows(queryset)`` builds one flat dict per experiment (the columns of ``COLUMNS``, in order);
``rows_csv_lines`` / ``rows_json`` write them. The list export, and any other page that exports a set of
experiments (a comparison), reuse these so every export has the same columns and meaning.
"""
from __future__ import annotations

import csv
import io
import json
import math
from typing import Any, Iterable, Iterator

from django.db.models import Prefetch, QuerySet
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone

from webapp.experiments import selectors
from webapp.experiments.models import COMPLETED_STATUSES, Event, Experiment

#: the columns of every experiment export, in order
COLUMNS: tuple[str, ...] = (
    "id", "name", "owner", "kind", "parent_id", "status", "stop_reason", "error",
    "space", "optimizer", "dataset", "seed", "device_requested", "device",
    # main config fields (a retrain has no optimizer settings: those stay empty)
    "epochs", "batch_size", "channels", "layers", "order", "w_lr", "alpha_lr", "lr", "steps_per_epoch",
    "early_stop", "curvature_every",
    # progress and final figures
    "epochs_done", "best_val_acc", "val_acc", "train_acc", "val_loss", "train_loss", "test_acc",
    "params", "flops", "epochs_completed", "genotype",
    # retrains of a search (a retrain's own test accuracy is test_acc)
    "retrain_ids", "retrain_test_acc", "retrain_test_acc_mean", "retrain_test_acc_best",
    # curation
    "starred", "is_baseline", "archived", "tags", "notes",
    "created_at", "started_at", "ended_at", "duration_seconds",
)
CONFIG_COLUMNS = ("batch_size", "channels", "layers", "order", "w_lr", "alpha_lr", "lr", "steps_per_epoch",
                  "early_stop", "curvature_every")
RESULT_COLUMNS = ("val_acc", "train_acc", "val_loss", "train_loss", "test_acc", "params", "flops", "epochs_completed")
#: how many experiments a list export holds at most (a guard, far above any real list)
MAX_EXPORT = 50_000


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def export_queryset(queryset: QuerySet[Experiment]) -> QuerySet[Experiment]:
    """``queryset`` with what the rows read fetched in a fixed number of queries."""
    retrains = Experiment.objects.select_related("result").order_by("created_at", "id")
    return queryset.select_related("owner", "result", "parent").prefetch_related(
        "tags", Prefetch("retrains", queryset=retrains))


def _result(exp: Experiment) -> Any:
    try:
        return exp.result
    except Experiment.result.RelatedObjectDoesNotExist:  # type: ignore[attr-defined]
        return None


def experiment_rows(queryset: Iterable[Experiment]) -> list[dict[str, Any]]:
    """One dict per experiment with the keys of ``COLUMNS`` (JSON-ready values; lists for tags and retrain ids).

    Pass a queryset to have its related data fetched efficiently; the order of the input is kept.
    """
    items = export_queryset(queryset) if isinstance(queryset, QuerySet) and not queryset.query.is_sliced else queryset
    rows: list[dict[str, Any]] = []
    for exp in items:
        config = exp.config if isinstance(exp.config, dict) else {}
        result = _result(exp)
        done = [r for r in exp.retrains.all() if r.status in COMPLETED_STATUSES]
        accs = [a for a in (getattr(_result(r), "test_acc", None) for r in done) if isinstance(a, (int, float))]
        row: dict[str, Any] = {
            "id": exp.pk, "name": exp.name, "owner": exp.owner.get_username(), "kind": exp.kind,
            "parent_id": exp.parent_id, "status": exp.status, "stop_reason": exp.stop_reason or None,
            "error": exp.error or None, "space": exp.space, "optimizer": exp.optimizer, "dataset": exp.dataset,
            "seed": exp.seed, "device_requested": exp.device_requested, "device": exp.device or None,
            "epochs": exp.epochs or config.get("epochs"),
            **{key: config.get(key) for key in CONFIG_COLUMNS},
            "epochs_done": exp.epochs_done, "best_val_acc": exp.best_val_acc,
            **{key: getattr(result, key, None) if result is not None else None for key in RESULT_COLUMNS},
            "genotype": result.genotype if result is not None else None,
            "retrain_ids": [r.pk for r in exp.retrains.all()],
            # the latest completed retrain's test accuracy, and mean/best over all completed ones (seeds)
            "retrain_test_acc": accs[-1] if accs else None,
            "retrain_test_acc_mean": sum(accs) / len(accs) if accs else None,
            "retrain_test_acc_best": max(accs) if accs else None,
            "starred": exp.starred, "is_baseline": exp.is_baseline, "archived": exp.archived,
            "tags": sorted((t.name for t in exp.tags.all()), key=str.lower), "notes": exp.notes,
            "created_at": _iso(exp.created_at), "started_at": _iso(exp.started_at), "ended_at": _iso(exp.ended_at),
            "duration_seconds": round(exp.duration.total_seconds(), 3) if exp.duration is not None else None,
        }
        rows.append({key: _finite(row[key]) for key in COLUMNS})
    return rows


def _csv_cell(value: Any) -> Any:
    """Lists become ``a;b``, structures JSON, booleans true/false, None an empty cell; spreadsheet formulas
    are neutralised (a leading = + - @ gets a quote) so opening an export never runs one."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        text = ";".join(str(v) for v in value)
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(",", ":"))
    elif isinstance(value, (int, float)):
        return value
    else:
        text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def rows_csv_lines(rows: Iterable[dict[str, Any]], columns: Iterable[str] = COLUMNS) -> Iterator[str]:
    """CSV text, a header line then one line per row, for streaming."""
    columns = list(columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
    if buffer.getvalue():
        yield buffer.getvalue()


def rows_csv(rows: Iterable[dict[str, Any]], columns: Iterable[str] = COLUMNS) -> str:
    return "".join(rows_csv_lines(rows, columns))


def rows_json(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """The JSON document of an export: ``{"columns", "count", "experiments", **extra}``."""
    return {**extra, "columns": list(COLUMNS), "count": len(rows), "experiments": rows}


def _stamp() -> str:
    return timezone.now().strftime("%Y%m%d-%H%M%S")


def list_export_response(user: Any, params: Any, fmt: str) -> HttpResponse:
    """The experiments of the list page's filters in ``params`` (all of them, not one page), as csv or json."""
    filters = selectors.list_filters_from(params)
    rows = experiment_rows(export_queryset(selectors.filtered_experiments(user, filters))[:MAX_EXPORT])
    name = f"experiments-{_stamp()}"
    if fmt == "csv":
        response = StreamingHttpResponse(rows_csv_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return response
    if fmt == "json":
        applied = {k: v for k, v in vars(filters).items() if v}
        response = JsonResponse(rows_json(rows, filters=applied, exported_at=timezone.now().isoformat()),
                                json_dumps_params={"indent": 1})
        response["Content-Disposition"] = f'attachment; filename="{name}.json"'
        return response
    return JsonResponse({"error": f"unknown export format {fmt!r}; use csv or json"}, status=400)


def event_history_lines(experiment: Experiment, chunk: int = 1000) -> Iterator[str]:
    """Every stored event of the experiment in order, one JSON object per line (the shape of the events API
    and of the engine's events.jsonl: the payload with ``seq`` and ``type``). Read in chunks, never all at once."""
    rows = Event.objects.filter(experiment_id=experiment.pk).order_by("seq").values_list("seq", "type", "payload")
    for seq, etype, payload in rows.iterator(chunk_size=chunk):
        yield json.dumps({"seq": seq, "type": etype, **{k: v for k, v in payload.items() if k not in ("seq", "type")}},
                         separators=(",", ":")) + "\n"


def event_history_response(experiment: Experiment) -> StreamingHttpResponse:
    response = StreamingHttpResponse(event_history_lines(experiment), content_type="application/x-ndjson; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="experiment-{experiment.pk}-events.jsonl"'
    return response
