"""The user's datasets by name: what a ``folder:NAME`` or ``csv:NAME`` is, where its files are, and its
settings file (``nasboard.yaml``)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence


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


def _problem(path: Path | str, message: str) -> dict[str, str]:
    return {"path": str(path), "message": message}
