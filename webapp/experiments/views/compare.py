"""Comparison pages (picked ids or the list's filter, both permalinks), their exports, and the leaderboard.
Thin: :mod:`compare_selectors` reads, :mod:`comparison` and :mod:`leaderboard` compute, templates show."""
from __future__ import annotations

from typing import Any, Sequence
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from nascore.benchmarks import find_table
from webapp.experiments.models import Experiment, Status
from webapp.experiments.presenters import regret
from webapp.experiments.presenters import benchmark, exports
from webapp.experiments.presenters import comparison as cmp
from webapp.experiments.presenters import leaderboard as lb
from webapp.experiments.presenters.genotypes import genotype_line
from webapp.experiments.presenters.spaces import cell_shapes
from webapp.experiments.selectors import compare as cs

#: one color per group, in order (the curves, the table's swatches and the cell cards share it)
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#393b79", "#637939")


def _error(request: HttpRequest, exc: cs.SelectionError, title: str = "Cannot compare these") -> HttpResponse:
    return render(request, "experiments/compare_error.html", {"title": title, "message": exc.message},
                  status=exc.status)


def _selection(request: HttpRequest, by: str) -> cs.Selection:
    if by == "ids":
        return cs.select_ids(request.user, request.GET)
    return cs.select_filter(request.user, request.GET)


def _permalink(request: HttpRequest, selection: cs.Selection) -> str:
    name = "experiments:compare" if selection.by == "ids" else "experiments:compare_filter"
    path = reverse(name)
    return request.build_absolute_uri(f"{path}?{selection.query}" if selection.query else path)


def build_comparison(user: Any, selection: cs.Selection) -> dict[str, Any]:
    """Everything the comparison page shows, from the selection's experiments (studies in a section of their own:
    they have trials, not epochs of one run)."""
    runs = cs.load_runs(user, [e for e in selection.experiments if not e.is_study])
    groups = cmp.group_runs(runs)
    color = {run.id: PALETTE[gi % len(PALETTE)] for gi, g in enumerate(groups) for run in g.members}
    group_of = {run.id: gi for gi, g in enumerate(groups) for run in g.members}
    ordered = [run for g in groups for run in g.members]
    shapes_of = {space: cell_shapes(space) for space in {r.space for r in ordered}}
    shapes = [shapes_of[r.space] for r in ordered]
    marked = cmp.differing_edges([r.genotype for r in ordered], shapes)
    curves = {metric: {"title": title, "axis": axis,
                       "groups": [cmp.group_curve(g, metric) for g in groups],
                       "runs": [cmp.run_curve(r, metric) for r in ordered]}
              for metric, title, axis in cmp.CURVES}
    page = {
        "groups": [{"label": g.label, "ids": g.ids, "seeds": g.seeds, "color": PALETTE[gi % len(PALETTE)]}
                   for gi, g in enumerate(groups)],
        "runs": [{"id": r.id, "name": r.name, "seed": r.seed, "group": group_of[r.id], "color": color[r.id],
                  "url": reverse("experiments:detail", args=[r.id])} for r in ordered],
        "curves": curves,
        "cells": [{"id": r.id, "genotype": r.genotype, "genotype_text": genotype_line(r.genotype, r.space), "edges": m,
                   "shapes": shapes_of[r.space],
                   "differing": {cell: [[e["from"], e["to"], e["op"]] for e in edges if e["diff"]] for cell, edges in m.items()}}
                  for r, m in zip(ordered, marked)],
        "alphas": [{"id": r.id, "cells": r.alphas} for r in ordered],
        "regret": _regret_config(ordered, groups, color),
    }
    cards = [{"run": r, "color": color[r.id], "group": groups[group_of[r.id]],
              "differing": cmp.diff_summary(m), "has_genotype": r.genotype is not None, "has_alphas": bool(r.alphas),
              "genotype_text": genotype_line(r.genotype, r.space),
              "diff_text": _diff_text(m)}
             for r, m in zip(ordered, marked)]
    table_columns = cmp.table_columns(runs)
    columns = [*cmp.COLUMNS, *table_columns]
    rows = cmp.table(groups, columns)
    for gi, row in enumerate(rows):
        row["color"] = PALETTE[gi % len(PALETTE)]
        row["retrains"] = sum(m.retrains for m in row["group"].members)
    stages: list[dict[str, Any]] = []
    for column in columns:
        if stages and stages[-1]["stage"] == column.stage:
            stages[-1]["span"] += 1
        else:
            stages.append({"stage": column.stage, "span": 1, "table": bool(column.table_dataset)})
    return {
        "groups": groups, "rows": rows,
        "group_items": [{"group": g, "color": PALETTE[gi % len(PALETTE)]} for gi, g in enumerate(groups)], "columns": columns, "stages": stages, "cards": cards,
        "table_datasets": sorted({c.table_dataset for c in table_columns}),
        "page_config": page, "std_note": cmp.STD_NOTE, "regret": page["regret"],
        "has_groups": any(len(g.members) > 1 for g in groups),
        "has_curvature": any(r.curvature for r in runs),
        "has_curves": any(r.epochs for r in runs),
        "unfinished": [r for r in runs if r.status not in (Status.FINISHED, Status.STOPPED_EARLY)],
        "has_runs": bool(runs),
        **_studies(selection.experiments),
    }


def _studies(experiments: list[Experiment]) -> dict[str, Any]:
    """The compared studies side by side: a table and their best value against compute (empty without studies)."""
    if not any(e.is_study for e in experiments):
        return {"studies": [], "study_scatter": None}
    from webapp.experiments.presenters import study as study_present
    from webapp.experiments.selectors.studies import compared_studies

    rows = study_present.compare_rows(compared_studies(experiments))
    return {"studies": rows, "study_scatter": study_present.compare_scatter(rows)}


#: black-box methods by name, for the regret plots' legends
METHOD_NAMES = {"rs": "random search", "re": "Regularized Evolution", "reinforce": "REINFORCE", "ls": "local search"}


def _regret_config(ordered: list[cmp.RunData], groups: list[cmp.Group], color: dict[int, str]) -> dict[str, Any] | None:
    """What the comparison's regret plots draw (static/js/regret.js), or None when no compared run is a black-box
    search: per such run its seeded runs' best-so-far steps, its colour (and a dash for later seeds of a group), how
    its budget is counted; the x axis starts in simulated seconds when every one of them had a time budget, and offers
    them only when every one was looked up in a table; the table's optimum when they all searched one table."""
    found = cs.blackbox_runs([r.id for r in ordered])
    if not found:
        return None
    member = {m.id: i for g in groups for i, m in enumerate(g.members)}
    dashes = ("solid", "dash", "dot", "dashdot", "longdash")
    items = []
    for r in ordered:
        if r.id not in found:
            continue
        cfg = r.config or {}
        items.append({"id": r.id, "name": r.name, "method": METHOD_NAMES.get(r.optimizer, r.optimizer),
                      "color": color[r.id], "dash": dashes[member[r.id] % len(dashes)],
                      "evaluator": cfg.get("evaluator", "train"), "budget": cfg.get("budget"),
                      "unit": cfg.get("budget_unit", "queries"), "dataset": r.dataset, "runs": found[r.id]})
    timed = all(i["evaluator"] == "table" and all(run["end"] is not None for run in i["runs"]) for i in items)
    optimum = None
    tables = {(r.space, r.dataset) for r in ordered if r.id in found and (r.config or {}).get("evaluator") == "table"}
    if len(tables) == 1 and all(i["evaluator"] == "table" for i in items):
        space, dataset = next(iter(tables))
        table = find_table(space, dataset, benchmark.store())
        if table is not None:
            optimum = {"dataset": dataset, **table.optimum()}
    tables_now = {key: find_table(key[0], key[1], benchmark.store()) for key in tables}
    protocols = []
    for item, r in zip(items, [r for r in ordered if r.id in found]):
        protocol = regret.run_protocol(r.config or {}, None, tables_now.get((r.space, r.dataset)))
        protocols.append(protocol)
        item["protocol"] = protocol["text"] if protocol else "Protocol: each query trained briefly (train evaluator)."
    paper = regret.paper_rows(*next(iter(tables)), protocols) if len(tables) == 1 else None
    return {"experiments": items, "seconds": timed, "paper": paper,
            "axis": "seconds" if timed and all(i["unit"] == "seconds" for i in items) else "queries",
            "optimum": optimum}


def _diff_text(marked: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The differing edges in words (a ``none`` edge is not drawn, so it must be said)."""
    out = []
    for cell, edges in marked.items():
        diffs = [e for e in edges if e["diff"]]
        if diffs:
            parts = [f"{e['from']}→{e['to']}: {e['op'] or 'to output'}" for e in diffs]
            out.append(f"{cell}: " + ", ".join(parts))
    return out


def _export_url(selection: cs.Selection, fmt: str) -> str:
    name = "experiments:compare_export" if selection.by == "ids" else "experiments:compare_filter_export"
    return f"{reverse(name, args=[fmt])}?{selection.query}"


def _render_comparison(request: HttpRequest, by: str) -> HttpResponse:
    try:
        selection = _selection(request, by)
    except cs.SelectionError as exc:
        return _error(request, exc)
    context = build_comparison(request.user, selection)
    ids_query = "ids=" + ",".join(str(e.pk) for e in selection.experiments)
    context.update(
        selection=selection,
        permalink=_permalink(request, selection),
        pin_url=f"{reverse('experiments:compare')}?{ids_query}" if selection.by == "filter" and len(selection.experiments) > 1 else "",
        export_csv=_export_url(selection, "csv"),
        export_json=_export_url(selection, "json"),
    )
    return render(request, "experiments/compare.html", context)


@login_required
@require_GET
def compare(request: HttpRequest) -> HttpResponse:
    """Picked experiments: ``?ids=3,5,9``. The list's checkboxes send ``ids=3&ids=5``: sent on to the short form."""
    if len(request.GET.getlist("ids")) > 1 and set(request.GET) == {"ids"}:
        try:
            selection = cs.select_ids(request.user, request.GET)
        except cs.SelectionError as exc:
            return _error(request, exc)
        return redirect(f"{reverse('experiments:compare')}?{selection.query}")
    return _render_comparison(request, "ids")


@login_required
@require_GET
def compare_filter(request: HttpRequest) -> HttpResponse:
    """The experiments the list's filter matches: ``?status=finished&space=darts`` (what the list's URL carries)."""
    return _render_comparison(request, "filter")


# ---- exports ------------------------------------------------------------------------------------------------

#: per-run columns of a comparison export whose runs a benchmark table scored (accuracies as fractions)
TABLE_EXPORT_COLUMNS = ["table", "table_dataset", "table_valid_acc", "table_test_acc"]
TABLE_NOTE = ("table_* figures (and figure columns with a table_dataset) are looked up in the benchmark table imported "
              "on the server for the run's dataset, not measured by the run; accuracies as fractions")


def comparison_columns(columns: Sequence[cmp.Column] = cmp.COLUMNS) -> list[str]:
    """The export module's columns, then what a comparison adds: the run's group, its benchmark table figures (when a
    table scored any run) and the group's figures."""
    extra = ["group", "group_label", "group_size", "search_seconds", "device_hours"]
    if any(c.table_dataset for c in columns):
        extra += TABLE_EXPORT_COLUMNS
    for column in columns:
        extra += [f"group_{column.key}_mean", f"group_{column.key}_std"]
    return list(exports.COLUMNS) + extra


def comparison_rows(user: Any, selection: cs.Selection) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[cmp.Column]]:
    """The export module's row of each experiment (in the comparison's order) with its group's figures, the groups
    themselves, and the figure columns (the fixed ones, then a pair per benchmark table that scored a run)."""
    runs = cs.load_runs(user, selection.experiments, with_curves=False)
    groups = cmp.group_runs(runs)
    columns = [*cmp.COLUMNS, *cmp.table_columns(runs)]
    table = cmp.table(groups, columns)
    by_id = {e.pk: e for e in exports.export_queryset(Experiment.objects.filter(pk__in=[r.id for r in runs]))}
    base = {row["id"]: row for row in exports.experiment_rows([by_id[r.id] for r in runs])}
    rows: list[dict[str, Any]] = []
    group_docs: list[dict[str, Any]] = []
    for gi, (group, trow) in enumerate(zip(groups, table), start=1):
        figures = {c.key: trow["cells"][c.key].as_dict() for c in columns}
        group_docs.append({"group": gi, "label": group.label, "ids": group.ids, "seeds": group.seeds,
                           "figures": figures, "best": {k: v for k, v in trow["best"].items() if v}})
        for run in group.members:
            row = dict(base[run.id])
            row.update(group=gi, group_label=group.label, group_size=len(group.members),
                       search_seconds=run.figures.get("search_seconds"), device_hours=run.figures.get("device_hours"))
            if len(columns) > len(cmp.COLUMNS):
                bench = run.benchmark or {}
                row.update(table=bench.get("title"), table_dataset=bench.get("dataset"),
                           table_valid_acc=bench.get("valid_acc"), table_test_acc=bench.get("test_acc"))
            for c in columns:
                row[f"group_{c.key}_mean"] = figures[c.key]["mean"]
                row[f"group_{c.key}_std"] = figures[c.key]["std"]
            rows.append(row)
    return rows, group_docs, columns


def _export(request: HttpRequest, by: str, fmt: str) -> HttpResponse:
    if fmt not in ("csv", "json"):
        return _error(request, cs.SelectionError(f"Unknown export format {fmt!r}: use export.csv or export.json."),
                      title="No such export")
    try:
        selection = _selection(request, by)
    except cs.SelectionError as exc:
        return _error(request, exc)
    rows, groups, columns = comparison_rows(request.user, selection)
    name = f"comparison-{timezone.now():%Y%m%d-%H%M%S}"
    if fmt == "csv":
        response = HttpResponse("".join(exports.rows_csv_lines(rows, comparison_columns(columns))),
                                content_type="text/csv; charset=utf-8")
    else:
        doc = exports.rows_json(rows, comparison={
            "by": selection.by, "description": selection.description, "permalink": _permalink(request, selection),
            "std": "sample standard deviation (n - 1) over the members of a group; null for a group of one",
            "figure_columns": [{"key": c.key, "title": c.title, "stage": c.stage, "higher_is_better": c.higher,
                                "unit": c.unit, **({"table_dataset": c.table_dataset} if c.table_dataset else {})}
                               for c in columns],
            "groups": groups,
            **({"table_figures": TABLE_NOTE} if len(columns) > len(cmp.COLUMNS) else {}),
        }, exported_at=timezone.now().isoformat())
        doc["columns"] = comparison_columns(columns)
        response = JsonResponse(doc, json_dumps_params={"indent": 1})
    response["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


@login_required
@require_GET
def compare_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The picked experiments' comparison as CSV or JSON (``?ids=...`` as for the page)."""
    return _export(request, "ids", fmt)


@login_required
@require_GET
def compare_filter_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """A filter comparison as CSV or JSON (the list's filter parameters, as for the page)."""
    return _export(request, "filter", fmt)


# ---- leaderboard --------------------------------------------------------------------------------------------

def _saved_space(value: str) -> bool:
    """Whether ``value`` names a saved space's version (``name@N``), as runs on it are stored."""
    from webapp.experiments.selectors import spaces as saved

    ref = saved.parse_reference(value)
    return ref is not None and ref[1] is not None and saved.find_version(*ref) is not None


def _leaderboard_choice(request: HttpRequest, pairs: list[tuple[str, str]]) -> tuple[str, str]:
    """The (space, dataset) asked for, checked against the engine's registries; the first pair by default."""
    from nascore.data import DATASETS
    from nascore.spaces import SPACES

    unknown = sorted(set(request.GET) - {"space", "dataset"})
    if unknown:
        raise cs.SelectionError(f"Unknown parameter {unknown[0]!r}: the leaderboard takes space and dataset.")
    space = request.GET.get("space", "").strip()
    dataset = request.GET.get("dataset", "").strip()
    if not space and not dataset:
        return pairs[0] if pairs else ("darts", "cifar10")
    if space not in SPACES and not _saved_space(space):
        raise cs.SelectionError(f"{space!r} is not a search space; use one of {', '.join(sorted(SPACES))} or a "
                                "saved space's name@version."
                                if space else "Give the search space too (?space=...&dataset=...).")
    datasets = set(DATASETS) | {d for s, d in lb.published_pairs() if s == space}
    if dataset not in datasets:
        raise cs.SelectionError(f"{dataset!r} is not a dataset; use one of {', '.join(sorted(datasets))}."
                                if dataset else "Give the dataset too (?space=...&dataset=...).")
    return space, dataset


@login_required
@require_GET
def leaderboard(request: HttpRequest) -> HttpResponse:
    """The user's completed searches on one space and dataset, ranked with the published results."""
    own = cs.leaderboard_pairs(request.user)
    pairs = sorted(set(own) | set(lb.published_pairs()))
    try:
        space, dataset = _leaderboard_choice(request, list(own) or pairs)
    except cs.SelectionError as exc:
        return _error(request, exc, title="No such leaderboard")
    experiments = cs.completed_searches(request.user, space, dataset)
    runs = cs.load_runs(request.user, experiments, with_curves=False)
    entries = [lb.Entry(label=r.name, val_acc=r.figures.get("best_val_acc"), test_acc=r.figures.get("test_acc"),
                        params=r.figures.get("retrain_params") or r.figures.get("params"),
                        cost=_hours_text(r.figures.get("device_hours")), experiment_id=r.id, optimizer=r.optimizer,
                        seed=r.seed, detail=f"{r.retrains} retrain{'s' if r.retrains != 1 else ''}" if r.retrains else "search only",
                        extra={"params_note": "" if r.figures.get("retrain_params") else "at search size",
                               "table": r.benchmark})
               for r in runs]
    scored = next((r.benchmark for r in runs if r.benchmark), None)  # one board, one dataset: one table
    entries += lb.published_entries(space, dataset)
    ranked = lb.rank(entries)
    top_ids = [e.experiment_id for e in ranked if e.experiment_id is not None][: cs.MAX_COMPARE]
    return render(request, "experiments/leaderboard.html", {
        "space": space, "dataset": dataset, "entries": ranked,
        "boards": [{"space": s, "dataset": d, "own": own.get((s, d), 0), "current": (s, d) == (space, dataset),
                    "url": f"{reverse('experiments:leaderboard')}?{urlencode({'space': s, 'dataset': d})}"}
                   for s, d in sorted(set(pairs) | {(space, dataset)})],
        "sources": lb.source_notes(ranked), "ranking_note": lb.RANKING_NOTE,
        "table": {"title": scored["title"], "dataset": scored["dataset"]} if scored else None,
        "compare_url": f"{reverse('experiments:compare')}?ids=" + ",".join(map(str, top_ids)) if len(top_ids) > 1 else "",
    })


def _hours_text(hours: Any) -> str:
    return f"{hours:.3g} device h" if isinstance(hours, float) else ""
