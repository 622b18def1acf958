"""NAS-Bench-201 (Dong and Yang, ICLR 2020) as a lookup table: import, validation, compact storage, queries.

The user brings the results (the CSV layout of one row per architecture: ``arch_str`` and the train, valid
and test loss and accuracy, per-epoch and total times); :func:`import_csv` checks every row and
:meth:`NB201Table.save` keeps them as one uncompressed ``.npz`` of float64 arrays indexed by the
architecture's base-5 code (:func:`arch_code`), which loads in a few milliseconds.

Validation and test figures live in separate arrays under separate names (``valid_acc``, ``test_acc``):
nothing reads one through the other's key.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from nascore.spaces.base import GenotypeError
from nascore.spaces.nb201 import EDGES, NB201_OPS, PUBLISHED, format_arch, parse_arch

NUM_OPS = len(NB201_OPS)
NUM_EDGES = len(EDGES)
NUM_ARCHS = NUM_OPS ** NUM_EDGES  # 15,625
#: the datasets of the benchmark (CIFAR-10 in its ``cifar10-valid`` setting: trained on half the training set)
DATASETS = ("cifar10", "cifar100", "imagenet16-120")
STORE_VERSION = 1
#: weights of the six edge digits of :func:`arch_code` (the first edge is the most significant digit)
_PLACES = np.array([NUM_OPS ** (NUM_EDGES - 1 - e) for e in range(NUM_EDGES)], dtype=np.int64)


class BenchmarkError(ValueError):
    """A benchmark file or store that cannot be used; the message names the row, the column or the file."""


@dataclass(frozen=True)
class Metric:
    """One figure of the table: the CSV column it comes from and what values it may take."""

    column: str
    kind: str  # "accuracy" (percent), "loss" or "seconds"
    title: str


#: every figure of the table, by the name queries use; validation and test are distinct entries
METRICS: dict[str, Metric] = {
    "train_acc": Metric("train-accuracy", "accuracy", "train accuracy (%)"),
    "train_loss": Metric("train-loss", "loss", "train loss"),
    "valid_acc": Metric("valid-accuracy", "accuracy", "validation accuracy (%)"),
    "valid_loss": Metric("valid-loss", "loss", "validation loss"),
    "test_acc": Metric("test-accuracy", "accuracy", "test accuracy (%)"),
    "test_loss": Metric("test-loss", "loss", "test loss"),
    "train_time": Metric("train-all-time", "seconds", "training time, all epochs (s)"),
    "train_epoch_time": Metric("train-per-time", "seconds", "training time per epoch (s)"),
    "valid_time": Metric("valid-all-time", "seconds", "validation time, all epochs (s)"),
    "valid_epoch_time": Metric("valid-per-time", "seconds", "validation time per epoch (s)"),
    "test_time": Metric("test-all-time", "seconds", "test time, all epochs (s)"),
    "test_epoch_time": Metric("test-per-time", "seconds", "test time per epoch (s)"),
}
ARCH_COLUMN = "arch_str"
REQUIRED_COLUMNS = (ARCH_COLUMN, *(m.column for m in METRICS.values()))
#: the range each kind of value must lie in
_RANGES = {"accuracy": (0.0, 100.0), "loss": (0.0, math.inf), "seconds": (0.0, math.inf)}
#: problems listed in one error message before the rest are only counted
MAX_LISTED = 10


# ---- architectures as codes ----------------------------------------------------------------------
def arch_code(ops: Sequence[str]) -> int:
    """The base-5 code of six edge ops (benchmark string order, op digits in ``NB201_OPS`` order)."""
    return int(sum(NB201_OPS.index(op) * int(p) for op, p in zip(ops, _PLACES)))


def code_ops(code: int) -> list[str]:
    """The six edge ops of a code (inverse of :func:`arch_code`)."""
    if not 0 <= int(code) < NUM_ARCHS:
        raise GenotypeError(f"an nb201 architecture code lies in 0..{NUM_ARCHS - 1}, not {code}")
    return [NB201_OPS[(int(code) // int(p)) % NUM_OPS] for p in _PLACES]


def code_arch(code: int) -> str:
    """The benchmark string of a code."""
    return format_arch(code_ops(code))


def columns_code(columns: Sequence[int]) -> int:
    """The code of six op columns (a sampler's ``{"cell": [...]}`` row, columns in ``NB201_OPS`` order)."""
    return int(np.dot(np.asarray(columns, dtype=np.int64), _PLACES))


def to_code(arch: Any) -> int:
    """The code of an architecture given as a benchmark string, a published name (``nb201_best``), six op
    names, a sampler's ``{"cell": [column, ...]}`` or a code; raises GenotypeError naming the problem."""
    if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
        code_ops(int(arch))
        return int(arch)
    if isinstance(arch, str):
        return arch_code(parse_arch(PUBLISHED.get(arch, arch)))
    if isinstance(arch, Mapping):
        if set(arch) != {"cell"}:
            raise GenotypeError(f"an nb201 architecture as columns is {{'cell': [six op columns]}}, not {arch!r}")
        cols = list(arch["cell"])
        if len(cols) != NUM_EDGES or not all(isinstance(c, (int, np.integer)) and 0 <= c < NUM_OPS for c in cols):
            raise GenotypeError(f"an nb201 cell has {NUM_EDGES} edges, each a column in 0..{NUM_OPS - 1}: {cols!r}")
        return columns_code(cols)
    if isinstance(arch, (list, tuple)):
        if len(arch) != NUM_EDGES:
            raise GenotypeError(f"an nb201 cell has {NUM_EDGES} edges, not {len(arch)}: {list(arch)!r}")
        return arch_code(parse_arch(format_arch([str(op) for op in arch])))
    raise GenotypeError(f"cannot read {arch!r} as an nb201 architecture; give its string, e.g. {PUBLISHED['nb201_best']!r}")


# ---- the table ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    """Every figure of one architecture on one dataset (accuracies in percent, times in seconds)."""

    arch: str
    code: int
    dataset: str
    train_acc: float
    train_loss: float
    valid_acc: float
    valid_loss: float
    test_acc: float
    test_loss: float
    train_time: float
    train_epoch_time: float
    valid_time: float
    valid_epoch_time: float
    test_time: float
    test_epoch_time: float

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "code": self.code, "dataset": self.dataset,
                **{name: getattr(self, name) for name in METRICS}}

    def accuracies(self) -> dict[str, Any]:
        """The cell and its validation and test accuracy: what reports and pages show of it."""
        return {"arch": self.arch, "valid_acc": self.valid_acc, "test_acc": self.test_acc}


class NB201Table:
    """The figures of all 15,625 cells on one dataset, as arrays indexed by :func:`arch_code`."""

    space = "nb201"

    def __init__(self, dataset: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None):
        missing = [name for name in METRICS if name not in arrays]
        if missing:
            raise BenchmarkError(f"the table lacks the metrics {', '.join(missing)}")
        self.dataset = dataset
        self.arrays: dict[str, np.ndarray] = {}
        for name in METRICS:
            values = np.asarray(arrays[name], dtype=np.float64)
            if values.shape != (NUM_ARCHS,):
                raise BenchmarkError(f"metric {name} holds {values.shape} values; the table needs {NUM_ARCHS}")
            values.setflags(write=False)
            self.arrays[name] = values
        self.meta = dict(meta or {})

    # ---- queries -----------------------------------------------------------------------------------
    def value(self, arch: Any, metric: str) -> float:
        """One figure of one architecture (see :data:`METRICS` for the names)."""
        return float(self.metric(metric)[to_code(arch)])

    def metric(self, metric: str) -> np.ndarray:
        """A whole column (read-only), indexed by code."""
        try:
            return self.arrays[metric]
        except KeyError:
            raise KeyError(f"unknown metric {metric!r}; the table has {', '.join(METRICS)}") from None

    def valid_acc(self, arch: Any) -> float:
        """Validation accuracy (%): what a search may look at."""
        return self.value(arch, "valid_acc")

    def test_acc(self, arch: Any) -> float:
        """Test accuracy (%): what is reported for the cell a search returns, never searched on."""
        return self.value(arch, "test_acc")

    def query(self, arch: Any) -> Record:
        """Every figure of one architecture."""
        code = to_code(arch)
        return Record(arch=code_arch(code), code=code, dataset=self.dataset,
                      **{name: float(values[code]) for name, values in self.arrays.items()})

    def best(self, metric: str = "valid_acc") -> Record:
        """The architecture with the highest ``metric`` (ties: the lowest code)."""
        return self.query(int(np.argmax(self.metric(metric))))

    def optimum(self) -> dict[str, Any]:
        """The table's optimum as searches see it (the best validation accuracy) and its test accuracy."""
        return self.best("valid_acc").accuracies()

    # ---- storage -----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> Path:
        """Write the table atomically as one ``.npz`` (arrays plus a JSON header)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = {**self.meta, "space": self.space, "dataset": self.dataset, "version": STORE_VERSION}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, header=np.array(json.dumps(header)), **self.arrays)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "NB201Table":
        path = Path(path)
        if not path.is_file():
            raise BenchmarkError(f"no stored table at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                arrays = {name: data[name] for name in METRICS if name in data.files}
        except (OSError, ValueError, KeyError) as exc:
            raise BenchmarkError(f"{path} is not a stored NAS-Bench-201 table ({exc}); import the results again") from None
        if header.get("version") != STORE_VERSION or header.get("space") != cls.space:
            raise BenchmarkError(f"{path} was stored by another version (header {header}); import the results again")
        return cls(header["dataset"], arrays, header)


def range_problem(metric: str, value: float) -> str | None:
    """Why ``value`` cannot be a figure of ``metric`` (e.g. "is out of range (accuracy must be [0, 100])"),
    or None when it can."""
    kind = METRICS[metric].kind
    low, high = _RANGES[kind]
    if math.isfinite(value) and low <= value <= high:
        return None
    span = f"[{low:g}, {high:g}]" if math.isfinite(high) else f"a finite number >= {low:g}"
    return f"is out of range ({kind} must be {span})"


class TableBuilder:
    """Gathers one dataset's figures from any reader (CSV rows, the official files), checks each
    architecture (a valid cell string, seen once, every figure a finite number in range) and names every
    problem by where it was found, so nothing half-checked ever becomes a table."""

    def __init__(self, source: str):
        self.source = source
        self.arrays = {name: np.full(NUM_ARCHS, np.nan) for name in METRICS}
        self.first_seen: dict[int, str] = {}  # code -> where it was first read
        self.problems: list[str] = []
        self.rows = 0

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def add(self, where: str, arch_text: str, values: Mapping[str, Any],
            labels: Mapping[str, str] | None = None, arch_label: str = f"column {ARCH_COLUMN}") -> None:
        """One architecture's figures (``values`` by :data:`METRICS` name, numbers or text); ``labels``
        name each figure in messages (default: its CSV column)."""
        self.rows += 1
        try:
            code = arch_code(parse_arch(arch_text))
        except GenotypeError as exc:
            self.problem(f"{where}, {arch_label}", str(exc))
            return
        if code in self.first_seen:
            self.problem(f"{where}, {arch_label}",
                         f"{arch_text.strip()} repeats the architecture of {self.first_seen[code]}")
            return
        checked = {}
        for name, metric in METRICS.items():
            label = labels[name] if labels else f"column {metric.column}"
            raw = values.get(name)
            shown = raw.strip() if isinstance(raw, str) else raw
            try:
                value = float(shown)
            except (TypeError, ValueError):
                self.problem(f"{where}, {label}", f"{shown!r} is not a number")
                continue
            wrong = range_problem(name, value)
            if wrong:
                self.problem(f"{where}, {label}", f"{shown} {wrong}")
                continue
            checked[name] = value
        if len(checked) < len(METRICS):
            return
        self.first_seen[code] = where
        for name, value in checked.items():
            self.arrays[name][code] = value

    def finish(self, dataset: str, meta: Mapping[str, Any]) -> NB201Table:
        """The table, or BenchmarkError listing the problems (the first :data:`MAX_LISTED`)."""
        problems = list(self.problems)
        if not problems and self.rows != NUM_ARCHS:
            absent = [code for code in range(NUM_ARCHS) if code not in self.first_seen]
            example = f"; for example {code_arch(absent[0])} is missing" if absent else ""
            problems.append(f"{self.rows:,} architectures, but NAS-Bench-201 has {NUM_ARCHS:,} distinct ones{example}")
        if problems:
            listed = "\n  ".join(problems[:MAX_LISTED])
            more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
            raise BenchmarkError(f"{self.source} is not a valid NAS-Bench-201 table ({len(problems)} "
                                 f"problem{'s' if len(problems) > 1 else ''}):\n  {listed}{more}")
        return NB201Table(dataset, self.arrays, {**meta, "rows": self.rows})


def import_csv(path: str | os.PathLike, dataset: str = "cifar10") -> NB201Table:
    """Read and check a results file in the CSV layout; raise BenchmarkError naming the rows and columns
    at fault (all of them, up to :data:`MAX_LISTED`), so nothing half-checked is ever stored."""
    if dataset not in DATASETS:
        raise BenchmarkError(f"unknown dataset {dataset!r}; NAS-Bench-201 has {', '.join(DATASETS)}")
    path = Path(path)
    if not path.is_file():
        raise BenchmarkError(f"{path}: no such file")
    started = time.perf_counter()
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BenchmarkError(f"{path}: not a UTF-8 text file ({exc})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if not header:
        raise BenchmarkError(f"{path}: the file is empty; expected a header row with {', '.join(REQUIRED_COLUMNS)}")
    header = [name.strip() for name in header]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise BenchmarkError(f"{path}: missing required column{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(missing)} (the header has {', '.join(header)})")
    where = {name: header.index(name) for name in REQUIRED_COLUMNS}
    builder = TableBuilder(str(path))
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            builder.rows += 1
            builder.problem(f"line {line_no}", f"{len(row)} fields, the header has {len(header)}")
            continue
        builder.add(f"line {line_no}", row[where[ARCH_COLUMN]],
                    {name: row[where[metric.column]] for name, metric in METRICS.items()})
    meta = {"source": str(path.resolve()), "sha256": hashlib.sha256(raw).hexdigest(),
            "imported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "format": "csv",
            "parse_seconds": round(time.perf_counter() - started, 3)}
    return builder.finish(dataset, meta)
