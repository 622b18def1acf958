"""What the data folder (``NASBOARD_DATA_DIR``) holds: the built-in datasets and whether their files are there, the
user's own datasets (``folder:NAME``, ``csv:NAME``), what one of them holds, and a few thumbnails of its images.

Reads files only: nothing is decoded beyond the thumbnails shown, nothing is written."""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404

from nascore import userdata
from nascore.data import DATASETS, DatasetSpec

#: thumbnails shown per class, of at most this many classes, this many pixels on their longer side
THUMBS_PER_CLASS = 4
THUMB_CLASSES = 24
THUMB_SIDE = 64


def data_dir() -> Path:
    return Path(settings.NASBOARD_DATA_DIR)


@dataclass(frozen=True)
class Builtin:
    spec: DatasetSpec
    present: bool


def builtin_present(spec: DatasetSpec) -> bool:
    """digits ships with scikit-learn; the others need their folder in the data folder, not empty."""
    if spec.name == "digits":
        return True
    folder = spec.folder(data_dir())
    try:
        return folder.is_dir() and any(folder.iterdir())
    except OSError:
        return False


def builtin_datasets() -> list[Builtin]:
    return [Builtin(spec, builtin_present(spec)) for _, spec in sorted(DATASETS.items())]


def user_dataset_names() -> list[str]:
    """The user datasets found in the data folder (a directory listing: cheap enough for every form)."""
    return userdata.list_user_datasets(data_dir(), exclude=tuple(DATASETS))


def user_dataset_problem(name: str, need_images: bool = True) -> str | None:
    """Why a run cannot read the user dataset ``name`` from the data folder, or None (it is there)."""
    try:
        located = userdata.locate(name, data_dir())
    except ValueError as exc:
        return str(exc)
    if need_images and located.kind != "images":
        return f"{name} is a table; a search needs an image dataset"
    return None


def user_summary(name: str) -> dict[str, Any]:
    """:func:`nascore.userdata.check_dataset` of ``name``; Http404 for a name that is no user dataset here."""
    if not userdata.valid_user_name(name):
        raise Http404("no such dataset")
    try:
        return userdata.check_dataset(name, data_dir=data_dir())
    except FileNotFoundError:
        raise Http404("no such dataset") from None


def builtin(name: str) -> Builtin:
    spec = DATASETS.get(name)
    if spec is None:
        raise Http404("no such dataset")
    return Builtin(spec, builtin_present(spec))


def thumbnails(name: str) -> dict[str, list[dict[str, str]]]:
    """A few images per class as ``data:`` URIs of small PNGs (``{"src", "file"}``); an unreadable file is left out
    (the problems list names it)."""
    from PIL import Image

    out: dict[str, list[dict[str, str]]] = {}
    samples = userdata.sample_files(name, data_dir(), per_class=THUMBS_PER_CLASS)
    for cls in list(samples)[:THUMB_CLASSES]:
        out[cls] = []
        for path in samples[cls]:
            try:
                with Image.open(path) as img:
                    img = img.convert("RGBA" if "A" in img.mode else "RGB")
                    img.thumbnail((THUMB_SIDE, THUMB_SIDE))
                    buf = io.BytesIO()
                    img.save(buf, format="PNG")
            except Exception:  # PIL raises many kinds for a bad file
                continue
            out[cls].append({"src": "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"),
                             "file": path.name})
    return out
