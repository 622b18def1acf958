"""Image folders: scanning the class-per-subfolder layout, checking every image's header, and loading every
image once into uint8 tensors cached by a fingerprint of the files and settings."""
from __future__ import annotations

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

from nascore.userdata.names import (CACHE_VERSION, GRAY_MODES, IMAGE_SUFFIXES,
                                    SETTINGS_FILE, ImageFolderSettings, Located,
                                    _children, _data_error, _problem, read_settings)

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
