"""``python -m nascore bench --table``: how fast the tabular benchmark is.

Import time (checking and storing a results file), load time of the stored table, queries per second
(one architecture string at a time through the public API, and by code as the searches do), and the wall
time of ``runs`` seeded runs of each black-box method at a ``budget`` of queries, with the mean and
spread of what they return (validation accuracy searched on, test accuracy reported).
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from nascore.benchmarks import load_table
from nascore.benchmarks.nb201 import NUM_ARCHS, NB201Table, code_arch
from nascore.benchmarks.nb201_official import import_results
from nascore.benchmarks.search import curves, search_many
from nascore.optimizers.components.samplers import SAMPLERS


def _best_of(fn: Any, repeat: int) -> tuple[Any, float]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def measure_table(csv: str | None = None, dataset: str = "cifar10", store: str | None = None, runs: int = 100,
                  budget: int = 150, methods: list[str] | None = None) -> dict[str, Any]:
    """The figures of the module docstring.  With ``csv`` (a results file in any layout the import reads: CSV
    or the official files) the import is timed (into a temporary folder, the store is left alone) and the
    searches use that table; without it the stored table is used."""
    if runs <= 0 or budget <= 0:
        raise ValueError(f"--table-runs and --table-budget must be positive integers, not {runs} and {budget}")
    methods = methods or list(SAMPLERS)
    report: dict[str, Any] = {"dataset": dataset, "runs": runs, "budget": budget}
    if csv:
        start = time.perf_counter()
        table = import_results(csv, dataset)
        parsed = time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"nb201-{dataset}.npz"
            _, saved = _best_of(lambda: table.save(path), 1)
            loaded, load_s = _best_of(lambda: NB201Table.load(path), 3)
        report["import"] = {"file": str(csv), "format": table.meta["format"], "check_and_parse_s": round(parsed, 3), "save_s": round(saved, 4),
                            "load_s": round(load_s, 4)}
        table = loaded
    else:
        start = time.perf_counter()
        table = load_table("nb201", dataset, store)
        report["import"] = {"file": None, "note": "give --table-csv to time an import", "load_s":
                            round(time.perf_counter() - start, 4)}
    strings = [code_arch(code) for code in range(NUM_ARCHS)]
    _, by_string = _best_of(lambda: [table.valid_acc(s) for s in strings], 2)
    codes = np.random.default_rng(0).integers(0, NUM_ARCHS, 1_000_000)
    valid = table.metric("valid_acc")
    _, by_code = _best_of(lambda: [valid[c] for c in codes[:100_000].tolist()], 2)
    _, vectorised = _best_of(lambda: valid[codes], 3)
    report["queries_per_second"] = {"by_string": round(NUM_ARCHS / by_string),
                                    "by_code": round(100_000 / by_code),
                                    "vectorised": round(len(codes) / vectorised)}
    report["optimum"] = table.optimum()
    rows = {}
    for method in methods:
        trajectories, seconds = _best_of(lambda: search_many(table, method, range(runs), queries=budget), 1)
        c = curves(trajectories, budget)
        rows[method] = {"seconds": round(seconds, 3), "queries_per_second": round(runs * budget / seconds),
                        "valid_mean": round(c["valid_mean"][-1], 3), "valid_std": round(c["valid_std"][-1], 3),
                        "test_mean": round(c["test_mean"][-1], 3), "test_std": round(c["test_std"][-1], 3)}
    report["methods"] = rows
    return report
