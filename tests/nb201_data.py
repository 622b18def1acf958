"""NAS-Bench-201 data for tests: the real CSV where the machine has it, and a synthetic table that needs no file.

The real file is read where it lies (``$NASBOARD_NB201_CSV``, else ``shared/nb201/cifar10_avg.csv`` beside
the repository); it is never copied into the project.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from nascore.benchmarks.nb201 import (
    METRICS,
    NUM_ARCHS,
    NUM_EDGES,
    NUM_OPS,
    NB201Table,
    code_arch,
)

ROOT = Path(__file__).resolve().parents[1]
CSV_ENV = "NASBOARD_NB201_CSV"


def real_csv() -> Path | None:
    """The NAS-Bench-201 CIFAR-10 results file, or None where this machine lacks it."""
    path = Path(os.environ.get(CSV_ENV) or ROOT.parent / "shared" / "nb201" / "cifar10_avg.csv")
    return path if path.is_file() else None


def require_real_csv() -> Path:
    path = real_csv()
    if path is None:
        pytest.skip(f"the NAS-Bench-201 results file is not on this machine: set {CSV_ENV} to the path of "
                    "cifar10_avg.csv (expected at ../shared/nb201/cifar10_avg.csv beside the repository)")
    return path


def digits() -> np.ndarray:
    """Per code, the six op digits (first edge most significant)."""
    codes = np.arange(NUM_ARCHS)
    return np.stack([(codes // NUM_OPS ** (NUM_EDGES - 1 - e)) % NUM_OPS for e in range(NUM_EDGES)], 1)


def synthetic_table(seed: int = 0, dataset: str = "cifar10") -> NB201Table:
    """A table over all 15,625 cells: per-edge op scores plus interactions of neighbouring edges (a rugged
    but structured landscape, one optimum), test accuracy = validation accuracy minus a cell-dependent
    offset (so the two always differ), losses and times that depend on the cell."""
    rng = np.random.default_rng(1000 + seed)
    d = digits()
    unary = rng.random((NUM_EDGES, NUM_OPS))
    pair = rng.random((NUM_EDGES - 1, NUM_OPS, NUM_OPS)) * 0.5
    score = sum(unary[e, d[:, e]] for e in range(NUM_EDGES))
    score = score + sum(pair[e, d[:, e], d[:, e + 1]] for e in range(NUM_EDGES - 1))
    score = score + 1e-6 * rng.random(NUM_ARCHS)  # no ties
    valid = 10 + 84 * (score - score.min()) / (score.max() - score.min())
    test = np.clip(valid - 0.2 - 0.6 * rng.random(NUM_ARCHS), 0, 100)
    convs = (d >= 2).sum(1)
    arrays = {"valid_acc": valid, "test_acc": test, "train_acc": np.clip(valid + 5, 0, 100),
              "valid_loss": (100 - valid) / 40, "test_loss": (100 - test) / 40, "train_loss": (100 - valid) / 60,
              "train_time": 500.0 + 300 * convs, "train_epoch_time": 2.5 + 1.5 * convs,
              "valid_time": 300.0 + 50 * convs, "valid_epoch_time": 1.5 + 0.25 * convs,
              "test_time": 100.0 + 20 * convs, "test_epoch_time": 0.5 + 0.1 * convs}
    return NB201Table(dataset, arrays, {"source": "synthetic", "rows": NUM_ARCHS})


def store_synthetic(store: Path, seed: int = 0, dataset: str = "cifar10") -> NB201Table:
    """Save a synthetic table where ``nascore.benchmarks.load_table`` finds it in ``store``."""
    table = synthetic_table(seed, dataset)
    table.save(Path(store) / f"nb201-{dataset}.npz")
    return table


HEADER = ["index", "arch_str", *(m.column for m in METRICS.values())]


def csv_rows(table: NB201Table) -> list[list[str]]:
    """The table as rows of the CSV layout (in code order), header first."""
    cols = [table.metric(name) for name in METRICS]
    rows = [HEADER]
    for code in range(NUM_ARCHS):
        rows.append([str(code), code_arch(code), *(repr(float(c[code])) for c in cols)])
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path
