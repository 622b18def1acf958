"""CSV tables with a target column: checking their columns and rows, and loading them as ``(X, y)`` tensors."""
from __future__ import annotations

import csv
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from nascore.userdata.names import (FOLDER_PREFIX, ROWS_SHOWN, SETTINGS_FILE, TABLE_FILE, Located,
                                    TableSettings, _data_error, _problem, is_user_name, locate, locate_path, read_settings)

# ---- tables ------------------------------------------------------------------------------------------------
def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass
class _Table:
    header: list[str]
    rows: list[list[str]]
    problems: list[dict[str, str]]


def _read_csv(path: Path) -> _Table:
    problems: list[dict[str, str]] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = [row for row in reader if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return _Table([], [], [_problem(path, f"unreadable CSV ({exc})")])
    if not header:
        return _Table([], [], [_problem(path, "empty CSV: no header row")])
    header = [h.strip() for h in header]
    if not rows:
        problems.append(_problem(path, "empty CSV: a header but no rows"))
    good = []
    for number, row in enumerate(rows, start=2):
        if len(row) != len(header):
            problems.append(_problem(path, f"row {number} has {len(row)} fields, the header {len(header)}"))
        else:
            good.append([v.strip() for v in row])
    return _Table(header, good, problems)


def _label_order(labels: Sequence[str]) -> list[str]:
    """The classes in order: numerically when every label is a number, else as text."""
    distinct = set(labels)
    if distinct and all(_number(v) is not None for v in distinct):
        return sorted(distinct, key=lambda v: (float(v), v))
    return sorted(distinct)


def _column_types(table: _Table) -> dict[str, str]:
    types = {}
    for i, name in enumerate(table.header):
        values = [row[i] for row in table.rows]
        filled = [v for v in values if v != ""]
        if not filled:
            types[name] = "empty"
        elif all(_number(v) is not None for v in filled):
            types[name] = "number" if len(filled) == len(values) else "number with blanks"
        else:
            types[name] = "text"
    return types


def _table_problems(path: Path, table: _Table, target: str, types: dict[str, str]) -> list[dict[str, str]]:
    problems = []
    if table.header and target not in table.header:
        problems.append(_problem(path, f"no target column {target!r}; the columns are: {', '.join(table.header)} "
                                       f"(name it with target: in {SETTINGS_FILE} or --target)"))
    for name, kind in types.items():
        if name == target:
            if kind == "empty" or any(row[table.header.index(name)] == "" for row in table.rows):
                problems.append(_problem(path, f"target column {name!r} has empty cells"))
        elif kind == "text":
            problems.append(_problem(path, f"feature column {name!r} is not numeric (for example "
                                           f"{_first_non_number(table, name)!r})"))
        elif kind != "number":
            problems.append(_problem(path, f"feature column {name!r} has empty cells"))
    if len(table.header) != len(set(table.header)):
        dupes = sorted(n for n, c in Counter(table.header).items() if c > 1)
        problems.append(_problem(path, f"columns named twice: {', '.join(dupes)}"))
    return problems


def _first_non_number(table: _Table, name: str) -> str:
    i = table.header.index(name)
    return next((row[i] for row in table.rows if row[i] != "" and _number(row[i]) is None), "")


def _check_table(loc: Located, target: str | None) -> dict[str, Any]:
    assert loc.csv is not None
    values, settings_problem = read_settings(loc.root, TableSettings, {"target": target})
    target_name = values["target"]
    table = _read_csv(loc.csv)
    types = _column_types(table)
    problems = list(table.problems)
    if settings_problem:
        problems.insert(0, _problem((loc.root or loc.csv.parent) / SETTINGS_FILE, settings_problem.split(": ", 1)[-1]))
    problems += _table_problems(loc.csv, table, target_name, types)
    counts: dict[str, int] = {}
    classes: list[str] = []
    if target_name in table.header:
        i = table.header.index(target_name)
        labels = [row[i] for row in table.rows if row[i] != ""]
        classes = _label_order(labels)
        tally = Counter(labels)
        counts = {c: tally[c] for c in classes}
    return {
        "kind": "table", "target": target_name, "settings": values,
        "columns": [{"name": n, "type": types.get(n, "empty"), "role": "target" if n == target_name else "feature"}
                    for n in table.header],
        "rows": table.rows[:ROWS_SHOWN], "classes": classes,
        "splits": {"all": {"total": len(table.rows), "classes": counts}},
        "features": [n for n in table.header if n != target_name],
        "problems": problems,
    }


# ---- tables: loading -----------------------------------------------------------------------------------------------
@dataclass
class TableData:
    """A table as tensors: ``x`` float32 ``(rows, features)``, ``y`` the class index of each row (classes sorted:
    numerically when every label is a number, else as text)."""

    x: Tensor
    y: Tensor
    features: list[str]
    classes: list[str]
    target: str
    path: Path


def load_table(path_or_name: str | Path, data_dir: str | Path | None = None, target: str | None = None) -> TableData:
    """``(X, y)`` of a CSV table: a ``csv:NAME`` in ``data_dir`` or a path; ``target`` over-rides the file's
    ``nasboard.yaml`` (default column: ``target``).  DataError names every problem (a missing target column,
    non-numeric features, empty cells, an empty file)."""
    name = str(path_or_name)
    if is_user_name(name):
        if name.startswith(FOLDER_PREFIX):
            raise _data_error(f"dataset {name!r} is an image folder, not a table (a table is csv:NAME)")
        loc = locate(name, data_dir if data_dir is not None else "data")
    else:
        if not Path(path_or_name).exists():
            raise _data_error(f"{path_or_name}: no such file or folder")
        loc = locate_path(path_or_name)
        if loc.kind != "table":
            raise _data_error(f"{path_or_name} is not a table (a .csv file, or a folder holding {TABLE_FILE})")
    assert loc.csv is not None
    values, problem = read_settings(loc.root, TableSettings, {"target": target})
    if problem:
        raise _data_error(problem)
    table = _read_csv(loc.csv)
    types = _column_types(table)
    problems = table.problems + _table_problems(loc.csv, table, values["target"], types)
    if problems:
        raise _data_error("; ".join(f"{p['path']}: {p['message']}" for p in problems))
    ti = table.header.index(values["target"])
    features = [n for n in table.header if n != values["target"]]
    idx = [table.header.index(n) for n in features]
    classes = _label_order([row[ti] for row in table.rows])
    index = {c: i for i, c in enumerate(classes)}
    x = torch.tensor([[float(row[i]) for i in idx] for row in table.rows], dtype=torch.float32)
    y = torch.tensor([index[row[ti]] for row in table.rows], dtype=torch.long)
    return TableData(x.reshape(len(table.rows), len(features)), y, features, classes, values["target"], loc.csv)
