"""NAS-Bench-201 figures on the dashboard: every nb201 cell it shows gets its benchmark accuracy.

The table is the one the user imported (``python -m nascore benchmark import PATH``) into the folder
``NASBOARD_BENCHMARK_DIR`` names; without one nothing is shown and nothing fails.  A search on a dataset the
benchmark covers (cifar10, cifar100) is scored on that dataset's table, any other nb201 search (digits, say)
on the CIFAR-10 table, and the page says which.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse

from nascore.benchmarks import (
    BENCHMARKS,
    BenchmarkError,
    NB201Table,
    find_table,
    table_problem,
)
from nascore.benchmarks.nb201 import to_code
from nascore.spaces.base import GenotypeError
from nascore.spaces.nb201 import PUBLISHED
from webapp.experiments.api.errors import ApiError
from webapp.experiments.presenters.formats import fixed

#: the table an nb201 search on another dataset is scored on
FALLBACK_DATASET = "cifar10"
#: at most this many architectures per lookup request (the API's query schema enforces it)
MAX_LOOKUP = 200
#: the figures a page shows of a cell (validation and test apart, never one for the other)
FIGURES = ("valid_acc", "test_acc", "valid_loss", "test_loss", "train_acc", "train_time")


def store() -> str:
    return str(settings.NASBOARD_BENCHMARK_DIR)


def table_for(space: str, dataset: str) -> NB201Table | None:
    """The table that scores cells of ``space`` found on ``dataset``, or None when none is imported."""
    spec = BENCHMARKS.get(space)
    if spec is None:
        return None
    for name in ((dataset, FALLBACK_DATASET) if dataset in spec.datasets else (FALLBACK_DATASET,)):
        table = find_table(space, name, store())
        if table is not None:
            return table
    return None


def figures(table: NB201Table, arch: Any) -> dict[str, Any] | None:
    """A cell's figures (percent for accuracies), or None for something that is not an nb201 cell."""
    try:
        record = table.query(arch)
    except (GenotypeError, BenchmarkError):
        return None
    found = {name: getattr(record, name) for name in FIGURES}
    return {"arch": record.arch, "dataset": table.dataset, **found, "text": figures_text(found)}


def figures_text(found: dict[str, Any]) -> str:
    """A cell's two accuracies as the pages word them (validation and test, percent)."""
    return f"validation {fixed(found.get('valid_acc'), 2)}%, test {fixed(found.get('test_acc'), 2)}%"


def page_config(exp: Any) -> dict[str, Any] | None:
    """What the experiment page's benchmark charts need, or None (not nb201, or no table imported)."""
    table = table_for(exp.space, exp.dataset)
    if table is None:
        return None
    optimum = table.optimum()
    all_skip = table.query(PUBLISHED["nb201_all_skip"]).accuracies()
    return {"space": exp.space, "dataset": table.dataset, "evaluator": (exp.config or {}).get("evaluator", "train"),
            "url": reverse("api:benchmark", args=[exp.space]) + f"?dataset={table.dataset}",
            "optimum": optimum, "all_skip": all_skip, "labels": chart_labels(table.dataset, optimum, all_skip)}


def chart_labels(dataset: str, optimum: dict[str, Any], all_skip: dict[str, Any]) -> dict[str, str]:
    """The benchmark charts' titles, legend entries and sentences; ``{epoch}`` and ``{figures}`` are filled in by
    the page with the epoch and a cell's ``text``."""
    return {
        "optimum": f"table optimum (validation {fixed(optimum['valid_acc'], 2)}%)",
        "all_skip": f"all skip connections (DARTS's collapse, {fixed(all_skip['valid_acc'], 2)}%)",
        "picked_valid": f"picked cell: NAS-Bench-201 validation ({dataset})",
        "picked_test": "picked cell: NAS-Bench-201 test",
        "search_valid": "the search's own validation accuracy",
        "picked_title": "Benchmark accuracy of the cell picked at each epoch",
        "picked_summary": f"Scored on the imported NAS-Bench-201 {dataset} table. The cell picked after epoch "
                          "{epoch}: {figures}.",
        "shown_cell": f"NAS-Bench-201 ({dataset}) of this cell: {{figures}}",
    }


def result_figures(exp: Any, genotype: Any) -> dict[str, Any] | None:
    """The benchmark figures of a result's cell, for the result block."""
    if genotype is None:
        return None
    table = table_for(exp.space, exp.dataset)
    return None if table is None else figures(table, genotype)


def scored_cell(space: str, dataset: str, genotype: Any) -> dict[str, Any] | None:
    """The table figures of a run's cell for comparison rows and the leaderboard: only from the table of the run's own
    dataset (no CIFAR-10 stand-in, since those rows are ranked against each other), accuracies as fractions like the
    rows' other figures; None when the dataset is not covered, no table is imported, or the genotype is no cell."""
    spec = BENCHMARKS.get(space)
    if spec is None or genotype is None or dataset not in spec.datasets:
        return None
    table = find_table(space, dataset, store())
    found = None if table is None else figures(table, genotype)
    if found is None:
        return None
    return {"name": space, "title": spec.title, "dataset": table.dataset, "arch": found["arch"],
            "valid_acc": found["valid_acc"] / 100, "test_acc": found["test_acc"] / 100}


def status_text() -> str:
    """Which tables this server has, for the form's help."""
    found = [f"{space} {dataset}" for space, spec in BENCHMARKS.items() for dataset in spec.datasets
             if table_problem(space, dataset, store()) is None]  # the file is there: no need to load it
    if found:
        return f"tables imported on this server: {', '.join(found)}"
    return ("no NAS-Bench-201 table is imported on this server: `python -m nascore benchmark import PATH "
            "--store $NASBOARD_BENCHMARK_DIR`")


def lookup(space: str, dataset: str, archs: list[str]) -> dict[str, Any]:
    """What ``GET /api/benchmark/<space>?dataset=cifar10&arch=...&arch=...`` answers: each cell's figures.

    ``available`` is false (and ``problem`` says why) when no table is imported; a string that is not a cell
    of the space is listed under ``errors`` with the reason, the others under ``archs``.
    """
    spec = BENCHMARKS.get(space)
    if spec is None:
        raise ApiError(404, f"no tabular benchmark covers the {space!r} space; there is one for "
                            f"{', '.join(sorted(BENCHMARKS))}")
    if dataset not in spec.datasets:
        raise ApiError(400, f"unknown dataset {dataset!r}; {spec.title} covers {', '.join(spec.datasets)}",
                       {"dataset": f"choose one of {', '.join(spec.datasets)}"})
    table = find_table(space, dataset, store())
    if table is None:
        return {"space": space, "dataset": dataset, "available": False, "archs": {}, "errors": {},
                "problem": f"no {spec.title} table for {dataset} is imported on this server"}
    found: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for arch in archs:
        try:
            to_code(arch)
        except GenotypeError as exc:
            problems[arch] = str(exc)
            continue
        found[arch] = figures(table, arch)
    return {"space": space, "dataset": dataset, "available": True, "archs": found, "errors": problems,
            "optimum": table.optimum()}
