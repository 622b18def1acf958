"""Read side of comparisons and the leaderboard: which experiments a request names, and their data as plain
:class:`~webapp.experiments.comparison.RunData`. Visibility goes through :mod:`selectors` (own runs; staff: all)."""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import urlencode

from django.http import QueryDict

from webapp.experiments import selectors
from webapp.experiments.models import (
    COMPLETED_STATUSES,
    Event,
    Experiment,
    Kind,
    Result,
    Status,
)
from webapp.experiments.presenters.benchmark import scored_cell
from webapp.experiments.presenters.comparison import RunData, mean_std, table_key

#: a comparison draws every run's curves, cells and heatmaps: more than this is unreadable (and slow)
MAX_COMPARE = 12
#: list parameters a filter comparison ignores (they page the list, they do not pick experiments)
IGNORED_FILTER_KEYS = frozenset({"page"})


class SelectionError(Exception):
    """The request does not name a comparison; ``status`` is 400 (malformed) or 404 (nothing visible to compare)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class Selection:
    """The experiments of a comparison and how the request named them (``ids`` or the list's ``filter``)."""

    by: str
    experiments: list[Experiment]
    query: str  # the canonical query string of the permalink
    description: str


def _filter_keys() -> list[str]:
    return [f.name for f in dataclasses.fields(selectors.ListFilters)]


def parse_ids(params: QueryDict) -> list[int]:
    """The ``ids`` of a query, given as ``ids=3,5,9`` or repeated ``ids=3&ids=5`` (the list's checkboxes),
    in the order given, duplicates dropped; SelectionError naming the first bad token."""
    unknown = sorted(set(params) - {"ids"})
    if unknown:
        raise SelectionError(f"Unknown parameter {unknown[0]!r}: a comparison of picked experiments takes only "
                             f"ids, e.g. ?ids=3,5,9.")
    tokens = [t.strip() for value in params.getlist("ids") for t in value.split(",")]
    tokens = [t for t in tokens if t]
    if not tokens:
        raise SelectionError("Nothing to compare: pick at least two experiments on the list with the checkboxes "
                             "(the link needs ?ids=3,5,...).")
    ids: list[int] = []
    for token in tokens:
        text = token.lstrip("#")
        if not text.isdigit() or len(text) > 12:
            raise SelectionError(f"{token!r} is not an experiment id: ids are whole numbers, e.g. ?ids=3,5,9.")
        if int(text) not in ids:
            ids.append(int(text))
    if len(ids) < 2:
        raise SelectionError(f"Pick at least two experiments to compare (only #{ids[0]} was given).")
    if len(ids) > MAX_COMPARE:
        raise SelectionError(f"At most {MAX_COMPARE} experiments can be compared at once; {len(ids)} were given.")
    return ids


def select_ids(user: Any, params: QueryDict) -> Selection:
    """Experiments by id, in the order given; 404 naming every id that is unknown or not the user's."""
    ids = parse_ids(params)
    found = {e.pk: e for e in selectors.visible_experiments(user).filter(pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        names = ", ".join(f"#{i}" for i in missing)
        verb = "does" if len(missing) == 1 else "do"
        raise SelectionError(f"Experiment{'s' if len(missing) > 1 else ''} {names} {verb} not exist or "
                             f"{'is' if len(missing) == 1 else 'are'} not yours to see.", status=404)
    return Selection(by="ids", experiments=[found[i] for i in ids], query="ids=" + ",".join(map(str, ids)),
                     description=f"{len(ids)} picked experiments")


def select_filter(user: Any, params: QueryDict) -> Selection:
    """Experiments the list's filter matches now (a filter permalink follows new runs); every value is checked."""
    keys = _filter_keys()
    unknown = sorted(set(params) - set(keys) - IGNORED_FILTER_KEYS)
    if unknown:
        raise SelectionError(f"Unknown filter parameter {unknown[0]!r}: a filter comparison takes the list's filters "
                             f"({', '.join(keys)}).")
    filters = selectors.list_filters_from(params)
    choices: dict[str, list[str]] = {"status": list(Status.values), "sort": list(selectors.SORTS),
                                     "kind": list(Kind.values),
                                     "archived": [c for c in getattr(selectors, "ARCHIVED_CHOICES", {}) if c]}
    for name, allowed in choices.items():
        given = (params.get(name) or "").strip()
        if name in keys and given and given not in allowed:
            raise SelectionError(f"{given!r} is not a valid {name}; use one of {', '.join(allowed)}.")
    for name in ("starred", "baseline"):
        given = (params.get(name) or "").strip()
        if name in keys and given and given not in ("1", "true", "on"):
            raise SelectionError(f"{given!r} is not a valid value for {name}; use {name}=1 (or leave it out).")
    for name in ("space", "optimizer", "dataset"):
        given = params.get(name) or ""
        if len(given) > 50:
            raise SelectionError(f"The {name} filter is too long ({len(given)} characters; names have at most 50).")
    matched = selectors.filtered_experiments(user, filters)
    count = matched.count()
    text = describe_filter(params)
    if count == 0:
        raise SelectionError(f"No experiment of yours matches this filter ({text}).", status=404)
    if count > MAX_COMPARE:
        raise SelectionError(f"The filter ({text}) matches {count} experiments; a comparison takes at most "
                             f"{MAX_COMPARE}. Narrow the filter, or pick experiments with the checkboxes.")
    kept = [(k, v) for k in keys for v in params.getlist(k) if v != ""]
    return Selection(by="filter", experiments=list(matched), query=urlencode(kept), description=text)


def describe_filter(params: QueryDict) -> str:
    """The filter in words, for titles and messages."""
    parts = [f"{k} = {v}" for k in _filter_keys() for v in params.getlist(k) if v and k != "sort"]
    return ", ".join(parts) if parts else "all your experiments"


# ---- loading runs ---------------------------------------------------------------------------------------------

#: events whose ``seconds`` are compute spent: search epochs, a retrain's epochs, curvature points
_TIMED_EVENTS = ("epoch", "eval_epoch", "curvature")
_CURVE_EVENTS = (*_TIMED_EVENTS, "regularization_change")


def _trajectories(ids: list[int]) -> dict[int, dict[str, Any]]:
    """Per experiment: the final per-epoch trajectory and curvature points, each with ``wall`` (cumulative compute
    seconds at that point: epoch and curvature time of every stored event, rolled-back epochs included, since they
    were spent), and ``seconds`` in all (a retrain's ``eval_epoch`` time counts, but its test accuracy is no
    validation curve). A DARTS-ADA rollback drops the points after the epoch it went back to."""
    state: dict[int, dict[str, Any]] = defaultdict(lambda: {"epochs": {}, "curvature": {}, "seconds": 0.0})
    rows = (Event.objects.filter(experiment_id__in=ids, type__in=_CURVE_EVENTS)
            .order_by("experiment_id", "seq").values_list("experiment_id", "type", "payload"))
    for exp_id, etype, payload in rows.iterator(chunk_size=2000):
        s = state[exp_id]
        seconds = payload.get("seconds")
        if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds > 0:
            s["seconds"] += float(seconds)
        if etype == "epoch" and isinstance(payload.get("epoch"), int):
            s["epochs"][payload["epoch"]] = {"epoch": payload["epoch"], "val_acc": payload.get("val_acc"),
                                             "val_loss": payload.get("val_loss"), "wall": round(s["seconds"], 3)}
        elif etype == "curvature" and isinstance(payload.get("epoch"), int):
            s["curvature"][payload["epoch"]] = {"epoch": payload["epoch"], "eigenvalue": payload.get("eigenvalue"),
                                                "wall": round(s["seconds"], 3)}
        elif etype == "regularization_change":
            restored = int(payload.get("restored_epoch") or 0)
            for key in ("epochs", "curvature"):
                s[key] = {e: p for e, p in s[key].items() if e <= restored}
    return {i: {"epochs": [s["epochs"][e] for e in sorted(s["epochs"])],
                "curvature": [s["curvature"][e] for e in sorted(s["curvature"])],
                "seconds": s["seconds"]} for i, s in state.items()}


def _run_seconds(exp: Experiment, traj: dict[str, Any] | None) -> float | None:
    """Compute time of a run: its epoch and curvature seconds, else (no timed events) its start-to-end time."""
    if traj and traj["seconds"] > 0:
        return traj["seconds"]
    if exp.started_at and exp.ended_at:
        return max(0.0, (exp.ended_at - exp.started_at).total_seconds())
    return None


def _alphas(result: Result | None, last_arch: dict[str, Any] | None) -> dict[str, Any]:
    """The final distribution per cell type: the result's (the returned epoch's, after DARTS-ES), else the last
    architecture event's."""
    raw = result.raw if result is not None and isinstance(result.raw, dict) else {}
    alphas, edges, ops = raw.get("alphas"), raw.get("edges"), raw.get("ops")
    if isinstance(alphas, dict) and isinstance(edges, dict) and isinstance(ops, list):
        return {cell: {"edges": edges.get(cell) or [], "ops": ops, "weights": rows}
                for cell, rows in alphas.items() if isinstance(rows, list)}
    cells = (last_arch or {}).get("cells")
    return cells if isinstance(cells, dict) else {}


def _last_arch(ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The payload of each experiment's last architecture event (PostgreSQL: one DISTINCT ON query)."""
    from django.db import connection

    qs = Event.objects.filter(experiment_id__in=list(ids), type="arch")
    if connection.vendor == "postgresql":
        rows = qs.order_by("experiment_id", "-seq").distinct("experiment_id").values_list("experiment_id", "payload")
        return dict(rows)
    out: dict[int, dict[str, Any]] = {}
    for exp_id in ids:
        payload = qs.filter(experiment_id=exp_id).order_by("-seq").values_list("payload", flat=True).first()
        if payload is not None:
            out[exp_id] = payload
    return out


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def load_runs(user: Any, experiments: list[Experiment], with_curves: bool = True) -> list[RunData]:
    """The comparison's data of each experiment, in the given order.

    Figures: search-time accuracy, the discovered network's parameters and FLOPs (at the search size), search time;
    of the finished retrains the user can see: mean test accuracy and parameters; device hours of the search and
    those retrains together. A retrain's own row carries its test accuracy and parameters under "retrained". Where a
    tabular benchmark of the run's space and dataset is imported, the table's validation and test accuracy of the
    run's cell too (:func:`~webapp.experiments.comparison.table_columns`).
    """
    ids = [e.pk for e in experiments]
    results = {r.experiment_id: r for r in Result.objects.filter(experiment_id__in=ids)}
    retrains: dict[int, list[Experiment]] = defaultdict(list)
    for child in (selectors.visible_experiments(user).filter(parent_id__in=ids, kind=Kind.RETRAIN,
                                                              status__in=COMPLETED_STATUSES)
                  .select_related("result").order_by("pk")):
        retrains[child.parent_id].append(child)
    child_ids = [c.pk for cs in retrains.values() for c in cs]
    traj = _trajectories(ids + child_ids) if with_curves else _seconds_only(ids + child_ids)
    arch = _last_arch(ids) if with_curves else {}
    runs = []
    for exp in experiments:
        result = results.get(exp.pk)
        raw = result.raw if result is not None and isinstance(result.raw, dict) else {}
        own_seconds = _run_seconds(exp, traj.get(exp.pk))
        children = retrains.get(exp.pk, [])
        child_results = [getattr(c, "result", None) for c in children]
        child_seconds = [_run_seconds(c, traj.get(c.pk)) for c in children]
        spent = [s for s in [own_seconds, *child_seconds] if s is not None]
        figures: dict[str, Any] = {
            "best_val_acc": _num(result.best_val_acc) if result and result.best_val_acc is not None else exp.best_val_acc,
            "val_acc": _num(result.val_acc) if result and result.val_acc is not None else exp.last_val_acc,
            "device_hours": sum(spent) / 3600 if spent else None,
        }
        if exp.kind == Kind.RETRAIN:
            figures.update(test_acc=_num(result.test_acc) if result else None,
                           retrain_params=_num(result.params) if result else None)
        else:
            figures.update(
                params=_num(raw.get("genotype_params")) if raw.get("genotype_params") is not None
                else (_num(result.params) if result else None),
                flops=_num(raw.get("flops")) if raw.get("flops") is not None else (_num(result.flops) if result else None),
                search_seconds=own_seconds,
                test_acc=mean_std(r.test_acc for r in child_results if r is not None).mean,
                retrain_params=mean_std(r.params for r in child_results if r is not None).mean,
            )
        genotype = result.genotype if result is not None else None
        bench = scored_cell(exp.space, exp.dataset, genotype)
        if bench is not None:
            for metric in ("valid_acc", "test_acc"):
                figures[table_key(bench["name"], bench["dataset"], metric)] = bench[metric]
        t = traj.get(exp.pk) or {}
        runs.append(RunData(
            id=exp.pk, name=exp.name, kind=exp.kind, config=exp.config or {}, seed=exp.seed, space=exp.space,
            optimizer=exp.optimizer, dataset=exp.dataset, status=exp.status,
            epochs=t.get("epochs", []), curvature=t.get("curvature", []), figures=figures,
            genotype=genotype,
            alphas=_alphas(result, arch.get(exp.pk)) if with_curves else {},
            retrains=len([r for r in child_results if r is not None and r.test_acc is not None]),
            benchmark=bench,
        ))
    return runs


def blackbox_runs(ids: list[int], until_seq: int | None = None) -> dict[int, list[dict[str, Any]]]:
    """The seeded runs of each experiment that emitted ``query`` events (black-box searches), as the regret plots of
    static/js/regret.js take them: ``seed``, ``n`` (queries made), ``end`` (simulated training seconds spent; None
    when candidates were trained) and ``steps``, ``[query, elapsed, best validation %, its test %]`` at each query
    that improved the best so far. Only those queries are read (``best_query == query``), not every one: a table
    search makes up to thousands per run. ``until_seq``: only the events up to that sequence number (what a live
    page has received so far)."""
    from django.db.models import F, FloatField, IntegerField, Max
    from django.db.models.fields.json import KT
    from django.db.models.functions import Cast

    queries = Event.objects.filter(experiment_id__in=ids, type="query")
    if until_seq is not None:
        queries = queries.filter(seq__lte=until_seq)
    extents = (queries.annotate(run=Cast(KT("payload__run"), IntegerField()))
               .values("experiment_id", "run")
               .annotate(n=Max(Cast(KT("payload__query"), IntegerField())),
                         end=Max(Cast(KT("payload__elapsed"), FloatField())),
                         seed=Max(Cast(KT("payload__seed"), IntegerField())))
               .order_by("experiment_id", "run"))
    runs: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
    for row in extents:
        runs[row["experiment_id"]][row["run"]] = {"run": row["run"], "seed": row["seed"], "n": row["n"],
                                                  "end": row["end"], "steps": []}
    improved = (queries.annotate(q=Cast(KT("payload__query"), IntegerField()),
                                 best=Cast(KT("payload__best_query"), IntegerField()))
                .filter(q=F("best")).order_by("experiment_id", "seq").values_list("experiment_id", "payload"))
    for exp_id, payload in improved.iterator(chunk_size=2000):
        run = runs[exp_id].get(payload.get("run"))
        if run is not None:
            run["steps"].append([payload.get("query"), _num(payload.get("elapsed")), _num(payload.get("best_valid_acc")),
                                 _num(payload.get("best_test_acc"))])
    return {exp_id: [by_run[r] for r in sorted(by_run)] for exp_id, by_run in runs.items()}


def _seconds_only(ids: list[int]) -> dict[int, dict[str, Any]]:
    """Compute seconds per experiment without reading the curves (the leaderboard needs only the total)."""
    from django.db.models import FloatField, Sum
    from django.db.models.fields.json import KT
    from django.db.models.functions import Cast

    rows = (Event.objects.filter(experiment_id__in=ids, type__in=_TIMED_EVENTS)
            .values("experiment_id").annotate(total=Sum(Cast(KT("payload__seconds"), FloatField()))))
    return {r["experiment_id"]: {"seconds": float(r["total"] or 0.0)} for r in rows}


def completed_searches(user: Any, space: str, dataset: str) -> list[Experiment]:
    """The user's completed, unarchived searches on one space and dataset (the leaderboard's own rows)."""
    return list(selectors.visible_experiments(user).filter(space=space, dataset=dataset, kind=Kind.SEARCH,
                                                            status__in=COMPLETED_STATUSES, archived=False))


def leaderboard_pairs(user: Any) -> dict[tuple[str, str], int]:
    """(space, dataset) -> number of the user's completed searches on it, pairs in sorted order."""
    from django.db.models import Count

    qs = (selectors.visible_experiments(user).filter(kind=Kind.SEARCH, status__in=COMPLETED_STATUSES, archived=False)
          .values_list("space", "dataset").annotate(n=Count("id")).order_by("space", "dataset"))
    return {(space, dataset): n for space, dataset, n in qs}
