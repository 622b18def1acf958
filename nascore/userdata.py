"""The user's own datasets: image folders and CSV tables in the data folder.

Names (what a config's ``dataset`` holds) carry their kind, so a user dataset can never shadow a built-in one and
the config validator can check a name's form without touching the disk:

* ``folder:NAME``: an image folder ``<data_dir>/NAME``, either ``train/<class>/*`` and ``test/<class>/*``, or
  ``<class>/*`` alone, which is split into train and test per class (stratified) with a fixed seed;
* ``csv:NAME``: a table ``<data_dir>/NAME.csv`` or ``<data_dir>/NAME/data.csv`` with one target column.

An optional ``<data_dir>/NAME/nasboard.yaml`` holds the dataset's settings (:class:`ImageFolderSettings`,
:class:`TableSettings`).  :func:`check_dataset` says what a dataset holds and what is wrong with it without
stopping at a problem; :func:`load_image_folder` decodes every image once with PIL into uint8 tensors, cached under
``<data_dir>/.nasboard-cache/`` by a fingerprint of the files and settings, and gives normalised float tensors that
the batch streams hold on the device (as fast as digits); :func:`load_table` gives ``(X, y)`` tensors of a table.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from nascore.settings import ConfigError, Settings, setting, validate_settings

FOLDER_PREFIX, CSV_PREFIX = "folder:", "csv:"
#: the form of a user dataset's name: its kind, a colon, a folder or file name (no path, no leading dot)
USER_NAME_PATTERN = r"(?:folder|csv):[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
USER_NAME_TEXT = "folder:NAME or csv:NAME"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
SETTINGS_FILE = "nasboard.yaml"
TABLE_FILE = "data.csv"
CACHE_DIR = ".nasboard-cache"
#: bump when the cached tensors' meaning changes
CACHE_VERSION = 2
#: PIL modes whose images have one channel of information (alpha aside)
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})
ROWS_SHOWN = 5


class DataError(ValueError):
    """A dataset that cannot be loaded (unknown name, files missing, download failed); ``nascore.data.DataError``
    is this class (declared here, below the data module, so that both raise the same one)."""


def _data_error(message: str) -> Exception:
    return DataError(message)


def is_user_name(name: Any) -> bool:
    return isinstance(name, str) and name.startswith((FOLDER_PREFIX, CSV_PREFIX))


def valid_user_name(name: Any) -> bool:
    return isinstance(name, str) and re.fullmatch(USER_NAME_PATTERN, name) is not None


def kind_of(name: str) -> str:
    """``images`` for ``folder:`` names, ``table`` for ``csv:`` names."""
    return "images" if name.startswith(FOLDER_PREFIX) else "table"


def bare_name(name: str) -> str:
    return name.split(":", 1)[1]


# ---- settings ---------------------------------------------------------------------------------------
class ImageFolderSettings(Settings):
    """An image folder's ``nasboard.yaml``."""

    title = "Image folder"

    image_size: int | None = setting(None, "Side of the square images the networks see.", ge=1, le=1024,
                                     none_means="the shorter side of the most common image size",
                                     source="NASBoard's choice")
    fit: str = setting("resize", "How an image of another size becomes image_size x image_size: resize (stretch "
                                 "to the square) or crop (scale the shorter side, cut the centre).",
                       choices={"resize": "resize", "crop": "crop"}, source="NASBoard's choice")
    test_fraction: float = setting(0.2, "Share of each class held out as the test split (a folder without "
                                        "train/ and test/).", gt=0, lt=1, source="NASBoard's choice")
    split_seed: int = setting(0, "Seed of that split.", ge=0, source="NASBoard's choice")


class TableSettings(Settings):
    """A table's ``nasboard.yaml``."""

    title = "Table"

    target: str = setting("target", "The column that holds each row's class.", min_length=1,
                          source="NASBoard's choice")


def read_settings(folder: Path | None, model: type[Settings], overrides: dict[str, Any] | None = None
                  ) -> tuple[dict[str, Any], str | None]:
    """``(values, problem)``: the folder's ``nasboard.yaml`` validated by ``model`` (defaults where it is absent),
    over-ridden by ``overrides``; a bad file gives the defaults and a message naming the file and the field."""
    raw: dict[str, Any] = {}
    path = folder / SETTINGS_FILE if folder is not None else None
    problem = None
    if path is not None and path.is_file():
        import yaml

        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            loaded, problem = {}, f"{path}: not readable YAML ({exc})"
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            loaded, problem = {}, f"{path}: must be a mapping of settings (key: value), not {type(loaded).__name__}"
        raw = dict(loaded)
    raw.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return validate_settings([model], raw), problem
    except ConfigError as exc:
        where = str(path) if path is not None and path.is_file() else "settings"
        message = "; ".join(f"{v}" for v in exc.errors.values())
        return validate_settings([model], {}), f"{where}: {message}"


# ---- where a dataset is -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Located:
    """Where a user dataset's files are: ``root`` (its folder, or None for a lone CSV) and ``csv`` (a table's file)."""

    kind: str  # images | table
    path: Path  # what was named: the folder or the CSV file
    root: Path | None
    csv: Path | None = None
    name: str | None = None


def locate(name: str, data_dir: str | Path) -> Located:
    """Where ``name`` (``folder:NAME`` or ``csv:NAME``) lives under ``data_dir``; DataError says where it looked."""
    if not valid_user_name(name):
        raise _data_error(f"{name!r} is not a user dataset's name; write {USER_NAME_TEXT} (letters, digits, . _ -)")
    data_dir = Path(data_dir)
    bare = bare_name(name)
    if name.startswith(FOLDER_PREFIX):
        root = data_dir / bare
        if not root.is_dir():
            raise _data_error(f"dataset {name!r}: no folder {root} (an image folder is <data folder>/{bare}/<class>/"
                              f"*.png, or <data folder>/{bare}/train/<class>/ and test/<class>/)")
        if (root / TABLE_FILE).is_file():
            raise _data_error(f"dataset {name!r}: {root} holds {TABLE_FILE}, a table; name it csv:{bare}")
        return Located("images", root, root, name=name)
    for candidate, root in ((data_dir / f"{bare}.csv", None), (data_dir / bare / TABLE_FILE, data_dir / bare)):
        if candidate.is_file():
            return Located("table", candidate, root, csv=candidate, name=name)
    raise _data_error(f"dataset {name!r}: neither {data_dir / (bare + '.csv')} nor {data_dir / bare / TABLE_FILE} "
                      f"exists")


def locate_path(path: str | Path) -> Located:
    """What a path on disk holds: a CSV file, a folder with ``data.csv``, or an image folder."""
    path = Path(path)
    if path.is_file():
        return Located("table", path, None, csv=path)
    if (path / TABLE_FILE).is_file():
        return Located("table", path, path, csv=path / TABLE_FILE)
    return Located("images", path, path)


def list_user_datasets(data_dir: str | Path, exclude: Sequence[str] = ()) -> list[str]:
    """The user datasets' names found in ``data_dir`` (one directory listing deep, no image is opened):
    ``csv:NAME`` for ``NAME.csv`` and ``NAME/data.csv``, ``folder:NAME`` for a folder with subfolders.
    ``exclude``: folder names that are not user datasets (the built-ins' torchvision folders)."""
    data_dir = Path(data_dir)
    found: list[str] = []
    try:
        entries = sorted(data_dir.iterdir())
    except OSError:
        return []
    for entry in entries:
        bare = entry.stem if entry.is_file() else entry.name
        if entry.name in exclude or not valid_user_name(FOLDER_PREFIX + bare):
            continue
        if entry.is_file() and entry.suffix.lower() == ".csv":
            found.append(CSV_PREFIX + bare)
        elif entry.is_dir():
            if (entry / TABLE_FILE).is_file():
                found.append(CSV_PREFIX + bare)
            elif any(child.is_dir() and not child.name.startswith(".") for child in _children(entry)):
                found.append(FOLDER_PREFIX + bare)
    return found


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


# ---- image folders: scanning --------------------------------------------------------------------------
@dataclass
class FolderScan:
    """The files of an image folder by split and class, before any image is opened."""

    root: Path
    layout: str  # "train/test" or "single"
    classes: list[str]
    #: split -> class -> image files (sorted); a single-layout folder has one split, "all", until it is split
    files: dict[str, dict[str, list[Path]]]
    problems: list[dict[str, str]] = field(default_factory=list)

    def all_files(self) -> list[Path]:
        return [p for split in self.files.values() for paths in split.values() for p in paths]


def _problem(path: Path | str, message: str) -> dict[str, str]:
    return {"path": str(path), "message": message}


def _class_folders(folder: Path) -> list[Path]:
    return [c for c in _children(folder) if c.is_dir() and not c.name.startswith(".")]


def _images_in(folder: Path) -> list[Path]:
    """Image files under a class folder (its subfolders too), in a fixed order."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                out.append(Path(dirpath) / name)
    return out


def scan_folder(root: Path) -> FolderScan:
    """The folder's layout, classes and files; problems (empty class folders, classes that differ between train/
    and test/) are listed, never raised."""
    problems: list[dict[str, str]] = []
    if (root / "train").is_dir() and (root / "test").is_dir():
        files: dict[str, dict[str, list[Path]]] = {}
        for split in ("train", "test"):
            files[split] = {c.name: _images_in(c) for c in _class_folders(root / split)}
        train_classes, test_classes = set(files["train"]), set(files["test"])
        for missing in sorted(train_classes - test_classes):
            problems.append(_problem(root / "test", f"class {missing!r} is in train/ but not in test/"))
        for missing in sorted(test_classes - train_classes):
            problems.append(_problem(root / "train", f"class {missing!r} is in test/ but not in train/"))
        classes = sorted(train_classes | test_classes)
        layout = "train/test"
    else:
        if (root / "train").is_dir() or (root / "test").is_dir():
            half = "train" if (root / "train").is_dir() else "test"
            other = "test" if half == "train" else "train"
            problems.append(_problem(root / half, f"{half}/ without {other}/: read as a class called {half!r}; "
                                                  f"add {other}/ or put the class folders directly in {root}"))
        files = {"all": {c.name: _images_in(c) for c in _class_folders(root)}}
        classes = sorted(files["all"])
        layout = "single"
    for split, by_class in files.items():
        for name, paths in by_class.items():
            if not paths:
                folder = root / name if split == "all" else root / split / name
                problems.append(_problem(folder, "empty class folder (no image files)"))
    if not classes:
        problems.append(_problem(root, "no class folders: put each class's images in a subfolder named after it"))
    return FolderScan(root, layout, classes, files, problems)


def split_single(files: dict[str, list[Path]], test_fraction: float, seed: int
                 ) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """``(train, test)`` of a single-layout folder: per class, ``round(n * test_fraction)`` images (at least one
    when the class has two or more, never all) drawn with a seed of ``seed`` and the class name, so the split is
    stratified and does not change when another class changes."""
    train: dict[str, list[Path]] = {}
    test: dict[str, list[Path]] = {}
    for name in sorted(files):
        paths = files[name]
        n = len(paths)
        n_test = min(max(round(n * test_fraction), 1 if n >= 2 else 0), max(n - 1, 0))
        order = np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))]).permutation(n)
        chosen = set(order[:n_test].tolist())
        test[name] = [p for i, p in enumerate(paths) if i in chosen]
        train[name] = [p for i, p in enumerate(paths) if i not in chosen]
    return train, test


# ---- image folders: checking ----------------------------------------------------------------------------
def _inspect(path: Path) -> tuple[tuple[int, int] | None, str | None, str | None]:
    """``(size, mode, problem)`` from the image's header, then ``verify()`` (no decoding)."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            size, mode = img.size, img.mode
            img.verify()
        return size, mode, None
    except Exception as exc:  # PIL raises many kinds (UnidentifiedImageError, SyntaxError, OSError, ...)
        return None, None, f"unreadable image ({type(exc).__name__}: {exc})"


def _sizes_summary(sizes: Counter) -> dict[str, Any] | None:
    if not sizes:
        return None
    common = sizes.most_common(1)[0][0]
    return {"min": [min(w for w, _ in sizes), min(h for _, h in sizes)],
            "max": [max(w for w, _ in sizes), max(h for _, h in sizes)],
            "most_common": list(common), "distinct": len(sizes)}


def _check_images(loc: Located) -> dict[str, Any]:
    root = loc.root
    assert root is not None
    scan = scan_folder(root)
    values, settings_problem = read_settings(root, ImageFolderSettings)
    problems = list(scan.problems)
    if settings_problem:
        problems.insert(0, _problem(root / SETTINGS_FILE, settings_problem.split(": ", 1)[-1]))
    sizes: Counter = Counter()
    modes: Counter = Counter()
    for path in scan.all_files():
        size, mode, problem = _inspect(path)
        if problem:
            problems.append(_problem(path, problem))
        else:
            sizes[size] += 1
            modes[mode] += 1
    if scan.layout == "single":
        train, test = split_single(scan.files["all"], values["test_fraction"], values["split_seed"])
        by_split = {"train": train, "test": test}
    else:
        by_split = scan.files
    image_size, size_from = _image_size(values, sizes)
    channels = (1 if set(modes) <= GRAY_MODES else 3) if modes else None
    return {
        "kind": "images", "layout": scan.layout, "classes": scan.classes,
        "splits": {s: {"total": sum(len(v) for v in by_class.values()),
                       "classes": {c: len(by_class.get(c, [])) for c in scan.classes}}
                   for s, by_class in by_split.items()},
        "channels": channels, "modes": dict(sorted(modes.items())), "image_sizes": _sizes_summary(sizes),
        "image_size": image_size, "image_size_from": size_from, "settings": values,
        "problems": problems,
    }


def _image_size(values: dict[str, Any], sizes: Counter) -> tuple[int | None, str]:
    if values.get("image_size"):
        return int(values["image_size"]), SETTINGS_FILE
    if not sizes:
        return None, "no readable image"
    w, h = sizes.most_common(1)[0][0]
    return min(w, h), f"the shorter side of the most common image size ({w}x{h}); set image_size in {SETTINGS_FILE}"


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


# ---- checking -------------------------------------------------------------------------------------------------
def check_dataset(path_or_name: str | Path, data_dir: str | Path | None = None, target: str | None = None
                  ) -> dict[str, Any]:
    """What a dataset holds and what is wrong with it, as a JSON-able dict; a problem never stops the check.

    ``path_or_name``: a user dataset's name (``folder:NAME``, ``csv:NAME``, looked up in ``data_dir``) or a path
    (a CSV file, a folder with ``data.csv``, an image folder).  Keys: ``name``, ``path``, ``kind`` (images|table),
    ``present``, ``classes``, ``splits`` (split -> total and per-class counts), ``problems`` (each ``{path,
    message}``); for images ``layout``, ``channels``, ``modes``, ``image_sizes`` (min/max/most common/distinct),
    ``image_size`` and ``image_size_from``, ``settings``; for tables ``target``, ``columns`` (name, type, role),
    ``rows`` (the first ones), ``features``, ``settings``.  Raises FileNotFoundError for a path that is not there.
    """
    name = str(path_or_name)
    if is_user_name(name) and data_dir is not None:
        try:
            loc = locate(name, data_dir)
        except ValueError as exc:
            raise FileNotFoundError(str(exc)) from None
    else:
        if not Path(path_or_name).exists():
            raise FileNotFoundError(f"{path_or_name}: no such file or folder")
        loc = locate_path(path_or_name)
    summary = _check_table(loc, target) if loc.kind == "table" else _check_images(loc)
    return {"name": loc.name, "path": str(loc.path), "present": True, **summary}


def render_check(summary: dict[str, Any]) -> str:
    """The summary of :func:`check_dataset` for a person to read."""
    lines = [f"{summary.get('name') or summary['path']}: {'image folder' if summary['kind'] == 'images' else 'table'} "
             f"({summary['path']})"]
    if summary["kind"] == "images":
        lines.append(f"layout: {summary['layout']}" + ("" if summary["layout"] == "train/test" else
                     f" (split per class: test_fraction {summary['settings']['test_fraction']}, "
                     f"split_seed {summary['settings']['split_seed']})"))
        sizes = summary["image_sizes"]
        if sizes:
            lines.append(f"image sizes: most common {sizes['most_common'][0]}x{sizes['most_common'][1]}, "
                         f"min {sizes['min'][0]}x{sizes['min'][1]}, max {sizes['max'][0]}x{sizes['max'][1]} "
                         f"({sizes['distinct']} distinct)")
        if summary["image_size"]:
            lines.append(f"loaded at: {summary['image_size']}x{summary['image_size']} "
                         f"({summary['settings']['fit']}; size from {summary['image_size_from']})")
        if summary["channels"]:
            lines.append(f"channels: {summary['channels']} ({', '.join(summary['modes'])})")
    else:
        lines.append(f"target: {summary['target']}")
        lines.append("columns: " + ", ".join(f"{c['name']} ({c['type']})" for c in summary["columns"]))
        for row in summary["rows"]:
            lines.append("  " + ", ".join(row))
    splits = list(summary["splits"])
    lines.append(f"classes: {len(summary['classes'])}")
    lines.append("  " + "class".ljust(20) + "".join(s.rjust(8) for s in splits))
    for name in summary["classes"]:
        lines.append("  " + name[:20].ljust(20) + "".join(str(summary["splits"][s]["classes"].get(name, 0)).rjust(8)
                                                          for s in splits))
    lines.append("  " + "total".ljust(20) + "".join(str(summary["splits"][s]["total"]).rjust(8) for s in splits))
    problems = summary["problems"]
    lines.append(f"problems: {len(problems)}" if problems else "problems: none")
    lines += [f"  {p['path']}: {p['message']}" for p in problems]
    return "\n".join(lines)


def sample_files(path_or_name: str | Path, data_dir: str | Path | None = None, per_class: int = 4
                 ) -> dict[str, list[Path]]:
    """A few image files per class (the first of the training split), for thumbnails."""
    loc = locate(str(path_or_name), data_dir) if is_user_name(str(path_or_name)) and data_dir is not None \
        else locate_path(path_or_name)
    if loc.kind != "images" or loc.root is None:
        return {}
    scan = scan_folder(loc.root)
    split = "train" if "train" in scan.files else "all"
    return {c: scan.files[split].get(c, [])[:per_class] for c in scan.classes}


# ---- image folders: loading -------------------------------------------------------------------------------------
@dataclass
class ImageFolderData:
    """A decoded image folder: uint8 images ``(N, C, S, S)`` and class indices per split."""

    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    classes: list[str]
    image_size: int
    channels: int
    #: per-channel mean and std of the training split, in [0, 1] units (computed once, kept in the cache)
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    from_cache: bool = False

    def __post_init__(self) -> None:
        if not self.mean:
            self.mean, self.std = channel_stats(self.train_x)

    def mean_std(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return tuple(self.mean), tuple(self.std)


def channel_stats(x: Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and (sample) std of uint8 images ``(N, C, H, W)`` in [0, 1] units, summed in float64 one
    channel at a time (no float copy of the whole split)."""
    means, stds = [], []
    for c in range(x.shape[1]):
        values = x[:, c].reshape(-1).to(torch.float64)
        n = values.numel()
        total, squares = float(values.sum()), float((values * values).sum())
        mean = total / n
        var = max(squares - n * mean * mean, 0.0) / max(n - 1, 1)
        means.append(mean / 255.0)
        stds.append(max(math.sqrt(var) / 255.0, 1e-6))
    return means, stds


def fingerprint(paths: Sequence[Path], root: Path, settings: dict[str, Any]) -> str:
    """Names, sizes and modification times of every file, and the settings: a changed file changes it."""
    h = hashlib.sha256(f"nascore.userdata:{CACHE_VERSION}:{json.dumps(settings, sort_keys=True)}".encode())
    start = len(str(root)) + 1
    for path in paths:
        text = str(path)
        st = os.stat(text)
        h.update(f"{text[start:]}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _decode(path: Path, size: int, fit: str, mode: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert(mode)
        w, h = img.size
        if (w, h) != (size, size):
            if fit == "crop":
                scale = size / min(w, h)
                nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
                img = img.resize((nw, nh), Image.BILINEAR)
                left, top = (nw - size) // 2, (nh - size) // 2
                img = img.crop((left, top, left + size, top + size))
            else:
                img = img.resize((size, size), Image.BILINEAR)
        arr = np.asarray(img, dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def load_image_folder(root: str | Path, cache_dir: str | Path | None = None, cache_key: str | None = None
                      ) -> ImageFolderData:
    """Decode every image of an image folder once (PIL) into uint8 tensors, or read them from the cache.

    The cache file ``<cache_dir>/<cache_key>-<fingerprint>.pt`` is used when the files and settings are unchanged;
    older cache files of the same key are removed.  Raises DataError for a folder that cannot be loaded (no
    classes, an empty split, unreadable images: all named).
    """
    root = Path(root)
    if not root.is_dir():
        raise _data_error(f"no image folder {root}")
    values, problem = read_settings(root, ImageFolderSettings)
    if problem:
        raise _data_error(problem)
    scan = scan_folder(root)
    if not scan.classes:
        raise _data_error(f"{root}: no class folders (put each class's images in a subfolder named after it)")
    if scan.layout == "single":
        train, test = split_single(scan.files["all"], values["test_fraction"], values["split_seed"])
        splits = {"train": train, "test": test}
    else:
        splits = scan.files
    paths = [p for s in ("train", "test") for c in scan.classes for p in splits[s].get(c, [])]
    key = cache_key or root.name
    cache_file = None
    if cache_dir is not None:
        fp = fingerprint(sorted(paths), root, {**values, "classes": scan.classes, "layout": scan.layout})
        cache_file = Path(cache_dir) / f"{key}-{fp[:24]}.pt"
        if cache_file.is_file():
            try:
                stored = torch.load(cache_file, map_location="cpu", weights_only=True)
                return ImageFolderData(**stored, from_cache=True)
            except Exception:  # a torn or stale file: decode again
                pass
    for split in ("train", "test"):
        if sum(len(v) for v in splits[split].values()) == 0:
            raise _data_error(f"{root}: the {split} split has no images")
    sizes: Counter = Counter()
    modes: set[str] = set()
    bad = []
    for path in paths:
        size, mode, trouble = _inspect(path)
        if trouble:
            bad.append(f"{path}: {trouble}")
        else:
            sizes[size] += 1
            modes.add(mode)
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise _data_error(f"{root}: {len(bad)} image(s) cannot be read: {'; '.join(bad[:3])}{more} "
                          f"(python -m nascore data check {root} lists every problem)")
    image_size, _ = _image_size(values, sizes)
    assert image_size is not None
    channels = 1 if modes <= GRAY_MODES else 3
    mode = "L" if channels == 1 else "RGB"
    tensors: dict[str, Any] = {}
    for split in ("train", "test"):
        items = [(p, i) for i, c in enumerate(scan.classes) for p in splits[split].get(c, [])]
        x = np.empty((len(items), channels, image_size, image_size), dtype=np.uint8)
        for j, (path, _) in enumerate(items):
            x[j] = _decode(path, image_size, values["fit"], mode)
        tensors[f"{split}_x"] = torch.from_numpy(x)
        tensors[f"{split}_y"] = torch.tensor([i for _, i in items], dtype=torch.long)
    data = ImageFolderData(**tensors, classes=list(scan.classes), image_size=image_size, channels=channels)
    if cache_file is not None:
        _store(cache_file, key, data)
    return data


def _store(cache_file: Path, key: str, data: ImageFolderData) -> None:
    """Write the cache atomically; an unwritable data folder only costs the next load its speed."""
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        for old in cache_file.parent.glob(f"{key}-*.pt"):
            if old != cache_file and re.fullmatch(rf"{re.escape(key)}-[0-9a-f]{{24}}\.pt", old.name):
                old.unlink(missing_ok=True)
        tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
        torch.save({"train_x": data.train_x, "train_y": data.train_y, "test_x": data.test_x, "test_y": data.test_y,
                    "classes": data.classes, "image_size": data.image_size, "channels": data.channels,
                    "mean": data.mean, "std": data.std}, tmp)
        os.replace(tmp, cache_file)
    except OSError:
        pass


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


__all__ = ["FOLDER_PREFIX", "CSV_PREFIX", "USER_NAME_PATTERN", "ImageFolderSettings", "TableSettings",
           "check_dataset", "load_image_folder", "load_table", "list_user_datasets", "locate", "sample_files",
           "ImageFolderData", "TableData"]
