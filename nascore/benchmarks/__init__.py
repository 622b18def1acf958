"""Tabular benchmarks: an architecture's true accuracy is a lookup.

The user imports their copy of a benchmark once (``python -m nascore benchmark import PATH``: the CSV
layout or the official files); it is
checked and kept in a store folder, by default ``~/.nascore/benchmarks`` or ``$NASCORE_BENCHMARK_DIR``,
one file per space and dataset.  Searches, the CLI and the dashboard load tables from there.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nascore.benchmarks.nb201 import DATASETS as NB201_DATASETS
from nascore.benchmarks.nb201 import BenchmarkError, NB201Table
from nascore.benchmarks.nb201_official import import_results

STORE_ENV = "NASCORE_BENCHMARK_DIR"


@dataclass(frozen=True)
class BenchmarkSpec:
    """A tabular benchmark of one search space: its datasets, how its results are read and stored."""

    space: str
    title: str
    datasets: tuple[str, ...]
    importer: Callable[..., NB201Table]
    table: type[NB201Table]


#: tabular benchmarks by the search space they cover
BENCHMARKS: dict[str, BenchmarkSpec] = {
    "nb201": BenchmarkSpec("nb201", "NAS-Bench-201", NB201_DATASETS, import_results, NB201Table),
}


def get_benchmark(space: str) -> BenchmarkSpec:
    try:
        return BENCHMARKS[space]
    except KeyError:
        raise BenchmarkError(f"no tabular benchmark covers the {space!r} space; "
                             f"benchmarks exist for {', '.join(sorted(BENCHMARKS))}") from None


def default_store() -> Path:
    """Where tables are kept: ``$NASCORE_BENCHMARK_DIR``, else ``~/.nascore/benchmarks``."""
    return Path(os.environ.get(STORE_ENV) or Path.home() / ".nascore" / "benchmarks").expanduser()


def stored_file(space: str, dataset: str, store: str | os.PathLike | None = None) -> Path:
    """The file that holds (or will hold) the table of ``space`` on ``dataset``."""
    folder = Path(store).expanduser() if store else default_store()
    return folder / f"{space}-{dataset}.npz"


def table_problem(space: str, dataset: str, store: str | os.PathLike | None = None) -> str | None:
    """Why no table of ``space`` on ``dataset`` can be loaded from ``store``, or None when one can."""
    if space not in BENCHMARKS:
        return f"a tabular benchmark exists only for the {', '.join(sorted(BENCHMARKS))} space, not {space!r}"
    spec = BENCHMARKS[space]
    if dataset not in spec.datasets:
        return (f"{spec.title} has no results for dataset {dataset!r}; it covers {', '.join(spec.datasets)}")
    path = stored_file(space, dataset, store)
    if not path.is_file():
        return (f"no {spec.title} table for {dataset} in {path.parent}; import one with "
                f"`python -m nascore benchmark import PATH --dataset {dataset}` (the store folder is "
                f"${STORE_ENV} or ~/.nascore/benchmarks)")
    return None


def import_table(path: str | os.PathLike, space: str = "nb201", dataset: str = "cifar10",
                 store: str | os.PathLike | None = None, epochs: str | None = None,
                 progress: Callable[[int, int], None] | None = None) -> tuple[NB201Table, Path]:
    """Check a results file (a CSV table or the official files; ``epochs`` picks the official files'
    training schedule; ``progress(done, total)`` follows the architectures of the official files) and store
    it; returns the table and the stored file.  Nothing is written unless the whole file is valid."""
    spec = get_benchmark(space)
    table = spec.importer(path, dataset=dataset, epochs=epochs, progress=progress)
    target = stored_file(space, dataset, store)
    table.save(target)
    with _lock:
        _cache.pop(str(target), None)
    return table, target


_cache: dict[str, tuple[float, NB201Table]] = {}
_lock = threading.Lock()


def load_table(space: str = "nb201", dataset: str = "cifar10", store: str | os.PathLike | None = None) -> NB201Table:
    """The stored table (cached per process, reloaded when the file changes); BenchmarkError says what
    is missing and how to import it."""
    problem = table_problem(space, dataset, store)
    if problem:
        raise BenchmarkError(problem)
    path = stored_file(space, dataset, store)
    mtime = path.stat().st_mtime
    with _lock:
        hit = _cache.get(str(path))
        if hit is not None and hit[0] == mtime:
            return hit[1]
    table = BENCHMARKS[space].table.load(path)
    with _lock:
        _cache[str(path)] = (mtime, table)
    return table


def find_table(space: str, dataset: str, store: str | os.PathLike | None = None) -> NB201Table | None:
    """The table if one is stored, else None (for pages that show benchmark figures where they can)."""
    if table_problem(space, dataset, store):
        return None
    try:
        return load_table(space, dataset, store)
    except BenchmarkError:
        return None


__all__ = ["BENCHMARKS", "BenchmarkError", "BenchmarkSpec", "NB201Table", "STORE_ENV", "default_store",
           "find_table", "get_benchmark", "import_table", "load_table", "stored_file", "table_problem"]
