"""The figures of a comparison, computed from plain data (no database, no Django), so they can be unit-tested.

A comparison takes a few experiments (as :class:`RunData`), groups those that differ only by seed, and derives:
the curves (validation accuracy and loss, dominant Hessian eigenvalue) on an epoch and a wall-clock axis, with
mean ± std per group; a table of final figures with the best value of each column marked (and, for cells a tabular
benchmark scored, the table's figures in columns of their own per table); the discovered cells with the edges where
they differ; the final architecture distributions.

Spread is the *sample* standard deviation (n − 1 in the denominator): the seeds are a sample of the seeds one could
have run, and the page says so. A group of one has no spread.
"""
from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from nascore.config import PLACEMENT_FIELDS

#: config keys that do not change what a run computes, beyond the seed: where it ran and what it is called
NON_IDENTITY_FIELDS = frozenset({"seed", "name"}) | PLACEMENT_FIELDS

STD_NOTE = "± is the sample standard deviation (n − 1) over the seeds of a group; a group of one has none."


@dataclass(frozen=True)
class Stat:
    """Mean, sample standard deviation (None for fewer than two values) and count of the values it summarises."""

    mean: float | None
    std: float | None
    n: int

    def as_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "n": self.n}


def _number(value: Any) -> float | None:
    """A finite float, or None for anything else (missing figures, NaN, booleans)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def mean_std(values: Iterable[Any]) -> Stat:
    """Mean and sample std (n − 1) of the numeric values, ignoring missing ones."""
    nums = [v for v in (_number(x) for x in values) if v is not None]
    if not nums:
        return Stat(None, None, 0)
    mean = math.fsum(nums) / len(nums)
    std = statistics.stdev(nums) if len(nums) >= 2 else None
    return Stat(mean, std, len(nums))


# ---- groups -------------------------------------------------------------------------------------------------

def group_key(kind: str, config: dict[str, Any]) -> str:
    """What two runs must share to be seeds of one setting: their kind and config, less seed, name and placement."""
    identity = {k: v for k, v in sorted((config or {}).items()) if k not in NON_IDENTITY_FIELDS}
    return json.dumps([kind, identity], sort_keys=True, default=str)


@dataclass
class RunData:
    """One experiment as the comparison needs it (loaded by the caller from the database).

    ``epochs``: the final trajectory, one dict per epoch in order (``epoch``, ``val_acc``, ``val_loss``, ``wall``:
    cumulative compute seconds when the epoch ended); ``curvature``: ``{"epoch", "eigenvalue", "wall"}`` points;
    ``figures``: column key -> value (see :data:`COLUMNS`); ``genotype``: the discovered architecture;
    ``alphas``: ``{cell: {"edges": [...], "ops": [...], "weights": [[...]]}}`` of the end of the run;
    ``benchmark``: where a tabular benchmark of the run's space and dataset is imported, the table's figures of the
    discovered cell (``name``, ``title``, ``dataset``, ``valid_acc`` and ``test_acc`` as fractions), else None.
    """

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    seed: int
    space: str = ""
    optimizer: str = ""
    dataset: str = ""
    status: str = ""
    epochs: list[dict[str, Any]] = field(default_factory=list)
    curvature: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    genotype: Any = None
    alphas: dict[str, Any] = field(default_factory=dict)
    retrains: int = 0
    benchmark: dict[str, Any] | None = None


@dataclass
class Group:
    """Runs that differ only by seed; ``label`` names the setting, ``members`` keep the order they were given in."""

    key: str
    members: list[RunData]
    label: str = ""

    @property
    def ids(self) -> list[int]:
        return [m.id for m in self.members]

    @property
    def seeds(self) -> list[int]:
        return [m.seed for m in self.members]


def group_runs(runs: Sequence[RunData]) -> list[Group]:
    """Group runs by :func:`group_key`, groups in the order of their first member."""
    groups: dict[str, Group] = {}
    for run in runs:
        key = group_key(run.kind, run.config)
        groups.setdefault(key, Group(key=key, members=[])).members.append(run)
    out = list(groups.values())
    for group in out:
        group.label = group_label(group)
    return out


def group_label(group: Group) -> str:
    """A readable name: the run's own name alone, or the first member's setting and the number of seeds."""
    first = group.members[0]
    if len(group.members) == 1:
        return first.name
    setting = " · ".join(x for x in (first.space, first.optimizer, first.dataset) if x)
    seeds = ", ".join(str(s) for s in sorted(group.seeds))
    return f"{setting or first.name} ({len(group.members)} seeds: {seeds})"


# ---- curves -------------------------------------------------------------------------------------------------

#: the curves a comparison overlays: key in the per-epoch dicts, title, axis title
CURVES = (
    ("val_acc", "Validation accuracy", "accuracy"),
    ("val_loss", "Validation loss", "loss"),
    ("eigenvalue", "Dominant Hessian eigenvalue", "eigenvalue"),
)


def _points(run: RunData, metric: str) -> dict[int, tuple[float, float | None]]:
    """epoch -> (value, wall) of one metric of one run (the eigenvalue comes from the curvature points)."""
    source = run.curvature if metric == "eigenvalue" else run.epochs
    out: dict[int, tuple[float, float | None]] = {}
    for point in source:
        value = _number(point.get(metric))
        epoch = point.get("epoch")
        if value is None or not isinstance(epoch, int):
            continue
        out[epoch] = (value, _number(point.get("wall")))
    return out


def group_curve(group: Group, metric: str) -> dict[str, Any] | None:
    """Per epoch: mean and sample std over the members that have the point, and the mean wall-clock.

    Returns ``{"epoch": [...], "wall": [...], "mean": [...], "std": [...], "n": [...]}`` (``std`` is None where
    fewer than two members have the epoch), or None when no member has the metric.
    """
    per_member = [_points(m, metric) for m in group.members]
    epochs = sorted({e for pts in per_member for e in pts})
    if not epochs:
        return None
    curve: dict[str, list[Any]] = {"epoch": [], "wall": [], "mean": [], "std": [], "n": []}
    for epoch in epochs:
        values = [pts[epoch][0] for pts in per_member if epoch in pts]
        walls = [pts[epoch][1] for pts in per_member if epoch in pts]
        stat = mean_std(values)
        curve["epoch"].append(epoch)
        curve["wall"].append(mean_std(walls).mean)
        curve["mean"].append(stat.mean)
        curve["std"].append(stat.std)
        curve["n"].append(stat.n)
    return curve


def run_curve(run: RunData, metric: str) -> dict[str, Any] | None:
    """One run's curve in the same shape as :func:`group_curve` (no spread)."""
    return group_curve(Group(key="", members=[run]), metric)


# ---- table of final figures ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """A figure of the table: ``higher`` says which way is better; ``stage`` is search or retrained, or for a figure
    looked up in a tabular benchmark (not measured by the run) the table, whose dataset ``table_dataset`` names."""

    key: str
    title: str
    stage: str
    higher: bool
    unit: str  # pct | count | seconds | hours
    table_dataset: str = ""


COLUMNS = (
    Column("best_val_acc", "Best val acc", "search", True, "pct"),
    Column("val_acc", "Final val acc", "search", True, "pct"),
    Column("params", "Params", "search", False, "count"),
    Column("flops", "FLOPs", "search", False, "count"),
    Column("search_seconds", "Search time", "search", False, "seconds"),
    Column("test_acc", "Test acc", "retrained", True, "pct"),
    Column("retrain_params", "Params", "retrained", False, "count"),
    Column("device_hours", "Device hours", "search + retrains", False, "hours"),
)


def best_indices(values: Sequence[float | None], higher: bool, rel_tol: float = 1e-9) -> set[int]:
    """Indices of the best values (ties share it); none when fewer than two rows have a value to compare, or when
    all of them are equal (bold everywhere would say nothing)."""
    present = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(present) < 2:
        return set()
    target = max(v for _, v in present) if higher else min(v for _, v in present)
    best = {i for i, v in present if math.isclose(v, target, rel_tol=rel_tol, abs_tol=1e-15)}
    return set() if len(best) == len(present) else best


def table_key(name: str, dataset: str, metric: str) -> str:
    """The figure key of a benchmark table's ``metric`` (valid_acc, test_acc), e.g. ``nb201_cifar10_valid_acc``."""
    return f"{name}_{dataset}_{metric}"


def table_columns(runs: Sequence[RunData]) -> list[Column]:
    """Validation and test accuracy of the discovered cells in each benchmark table the runs were scored on (one pair
    per table, so figures of different datasets never share a column); none when no run was scored."""
    tables = sorted({(r.benchmark["name"], r.benchmark["title"], r.benchmark["dataset"]) for r in runs if r.benchmark})
    columns: list[Column] = []
    for name, title, dataset in tables:
        stage = f"{title} table · {dataset}"
        columns += [Column(table_key(name, dataset, "valid_acc"), "Table val acc", stage, True, "pct", dataset),
                    Column(table_key(name, dataset, "test_acc"), "Table test acc", stage, True, "pct", dataset)]
    return columns


def table(groups: Sequence[Group], columns: Sequence[Column] = COLUMNS) -> list[dict[str, Any]]:
    """One row per group: per column the :class:`Stat` over its members and whether it is the column's best."""
    rows = [{"group": g, "cells": {c.key: mean_std(m.figures.get(c.key) for m in g.members) for c in columns}}
            for g in groups]
    for column in columns:
        best = best_indices([r["cells"][column.key].mean for r in rows], column.higher)
        for i, row in enumerate(rows):
            row.setdefault("best", {})[column.key] = i in best
    return rows


# ---- cells --------------------------------------------------------------------------------------------------

Edge = tuple[str, str, str]  # (from node, to node, op); op "" for an intermediate node feeding the cell output


def cell_edges(genotype: Any, shapes: dict[str, Any] | None = None) -> dict[str, list[Edge]]:
    """The edges of each cell type of a genotype, with node names as the page's cell drawing uses them.

    DARTS-like ``{"normal": [[op, input], ...], "normal_concat": [...], ...}``: inputs are nodes 0 and 1, pair i
    feeds node ``i // per_node + 2``, concatenated nodes feed ``out``. NAS-Bench-201 string ``|op~src|+...``: group
    i holds the edges into node i + 1, in the cell type ``cell``. One op per edge row ``{"cell": [op, ...]}`` (a
    document space's ``edge_ops``): row i is the edge ``shapes[cell]["edges"][i]`` (``presenters.spaces.cell_shapes``),
    a ``none`` op leaves it out, and a concatenated output adds ``out``.
    """
    if isinstance(genotype, str):
        edges: list[Edge] = []
        for i, group in enumerate(genotype.split("+")):
            for item in (s for s in group.split("|") if s):
                op, _, src = item.partition("~")
                edges.append((src, str(i + 1), op))
        return {"cell": edges}
    if not isinstance(genotype, dict):
        return {}
    cells: dict[str, list[Edge]] = {}
    for cell, pairs in genotype.items():
        if cell.endswith("_concat") or not isinstance(pairs, list):
            continue
        shape = (shapes or {}).get(cell)
        if shape and pairs and all(isinstance(p, str) for p in pairs):
            rows = shape["edges"]
            cells[cell] = [(str(rows[i][0]), str(rows[i][1]), op) for i, op in enumerate(pairs)
                           if i < len(rows) and op != "none"]
            if isinstance(shape.get("output"), list):
                cells[cell] += [(str(n), "out", "") for n in shape["output"]]
            continue
        pairs = [p for p in pairs if isinstance(p, (list, tuple)) and len(p) >= 2]
        nodes = list((shape or {}).get("nodes") or [])
        if nodes and not (list(shape.get("inputs", [])) == [0, 1] and nodes == list(range(2, len(nodes) + 2))):
            # a document space's cell numbered its own way (one input): the pairs of each node in turn
            per = max(1, round(len(pairs) / len(nodes)))
            edges = [(str(p[1]), str(nodes[min(len(nodes) - 1, i // per)]), str(p[0])) for i, p in enumerate(pairs)]
            concat = genotype.get(f"{cell}_concat")
            concat = concat if isinstance(concat, list) else shape.get("output")
            cells[cell] = edges + ([(str(n), "out", "") for n in concat] if isinstance(concat, list) else [])
            continue
        concat = genotype.get(f"{cell}_concat")
        concat = [int(n) for n in concat] if isinstance(concat, list) and concat else None
        steps = max(concat) - 1 if concat else math.ceil(len(pairs) / 2)
        per_node = max(1, round(len(pairs) / max(1, steps)))
        edges = [(str(p[1]), str(i // per_node + 2), str(p[0])) for i, p in enumerate(pairs)]
        edges += [(str(n), "out", "") for n in (concat or range(2, steps + 2))]
        cells[cell] = edges
    return cells


def differing_edges(genotypes: Sequence[Any],
                    shapes: Sequence[dict[str, Any]] | None = None) -> list[dict[str, list[dict[str, Any]]]]:
    """For each genotype, its edges per cell type, each flagged ``diff`` unless every other genotype has it too.

    Edges are compared as multisets of (from, to, op) per cell type (a DARTS node may take two ops from one input):
    an edge is shared as many times as the genotype that has it least often has it. A single genotype (or none to
    compare with) has no differing edges; a missing genotype does not count as differing from the others.
    """
    parsed = [cell_edges(g, shapes[i] if shapes else None) for i, g in enumerate(genotypes)]
    present = [p for p in parsed if p]
    cell_types = sorted({c for p in present for c in p})
    common: dict[str, Counter[Edge]] = {}
    for cell in cell_types:
        counters = [Counter(p.get(cell, [])) for p in present]
        shared = counters[0]
        for counter in counters[1:]:
            shared = shared & counter
        common[cell] = shared
    out: list[dict[str, list[dict[str, Any]]]] = []
    for cells in parsed:
        marked: dict[str, list[dict[str, Any]]] = {}
        for cell, edges in cells.items():
            left = Counter(common.get(cell, Counter())) if len(present) > 1 else Counter(edges)
            rows = []
            for edge in edges:
                shared = left[edge] > 0
                if shared:
                    left[edge] -= 1
                rows.append({"from": edge[0], "to": edge[1], "op": edge[2], "diff": not shared})
            marked[cell] = rows
        out.append(marked)
    return out


def diff_summary(marked: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """Number of differing edges per cell type (what the page says under each cell)."""
    return {cell: sum(1 for e in edges if e["diff"]) for cell, edges in marked.items()}
