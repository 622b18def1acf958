"""The official NAS-Bench-201 files, read into an :class:`NB201Table` without running any code they hold.

Three layouts carry the same results (Dong and Yang's ``nas_201_api`` and its successor NATS-Bench):

- ``NAS-Bench-201-v1_0-e61699.pth`` / ``NAS-Bench-201-v1_1-096897.pth``: one ``torch.save`` dict
  ``{"meta_archs": [arch strings], "arch2infos": {index: {"less": ..., "full": ...}}, "evaluated_indexes"}``;
  ``less`` is the 12-epoch schedule, ``full`` the 200-epoch one.
- ``NATS-tss-v1_0-3ffb9.pickle.pbz2``: the same dict as a bz2-compressed pickle, schedules keyed ``"12"``/``"200"``.
- ``NATS-tss-v1_0-3ffb9-simple/``: a folder with ``meta.pickle.pbz2`` (``meta_archs``) and one
  ``000000.pickle.pbz2`` per architecture (``{"12": ..., "200": ...}``).

Each schedule is an ``ArchResults`` state dict: ``dataset_seed`` (dataset -> seeds) and ``all_results``
((dataset, seed) -> one trial: ``epochs``, ``train_acc1es``/``train_losses``/``train_times`` by epoch,
``eval_acc1es``/``eval_losses``/``eval_times`` by ``"set@epoch"``).  A figure of the table is the
last epoch's, averaged over the seeds; times are summed over the epochs, as the benchmark's own API does.

Validation and test come from different evaluation sets, never from one key: ``x-valid`` is validation on
every dataset; test is ``ori-test`` for CIFAR-10 (the ``cifar10-valid`` setting, trained on the training
half) and ``x-test`` for CIFAR-100 and ImageNet16-120, whose ``ori-test`` holds the validation images too.

The files are pickles, which can run code when loaded.  They go through an unpickler that admits only
plain containers and numpy scalars and refuses anything else by name; in ``.pth`` files torch's tensors
(trained weights, which no figure needs) are skipped, not rebuilt.  This also reads a multi-gigabyte
file at the speed of Python's C unpickler, without holding its weights in memory.
"""
from __future__ import annotations

import bz2
import hashlib
import io
import pickle
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from nascore.benchmarks.nb201 import (DATASETS, METRICS, BenchmarkError, NB201Table, TableBuilder, import_csv,
                                      range_problem)

#: the training schedules of the benchmark, by their number of epochs
SCHEDULES = ("200", "12")
#: the .pth file's names for the schedules
_SCHEDULE_ALIASES = {"full": "200", "less": "12"}
NATS_META = "meta.pickle.pbz2"
NATS_SUFFIX = ".pickle.pbz2"


@dataclass(frozen=True)
class Setting:
    """How the benchmark names one of our datasets and its evaluation sets."""

    key: str
    valid_set: str
    test_set: str


SETTINGS: dict[str, Setting] = {
    "cifar10": Setting("cifar10-valid", "x-valid", "ori-test"),
    "cifar100": Setting("cifar100", "x-valid", "x-test"),
    "imagenet16-120": Setting("ImageNet16-120", "x-valid", "x-test"),
}
assert set(SETTINGS) == set(DATASETS)


class _Missing(Exception):
    """A figure the file lacks; the message says which."""


# ---- loading without running code -----------------------------------------------------------------------
class _Refused(pickle.UnpicklingError):
    """A pickle named a callable that is not plain data (the message names it)."""


class _PlainUnpickler(pickle.Unpickler):
    """Admits plain containers and numpy scalars only: a pickle naming any other callable is refused."""

    _ALLOWED = {("collections", "OrderedDict"), ("collections", "defaultdict"), ("_codecs", "encode"),
                ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                *(("builtins", name) for name in ("set", "frozenset", "list", "dict", "tuple", "int", "float",
                                                  "str", "bytes", "bytearray", "bool", "complex"))}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED or (module == "numpy.dtypes" and name.endswith("DType")):
            return super().find_class(module, name)
        raise _Refused(f"{module}.{name}")


class _Dropped:
    """Stands in for a tensor (trained weights) of a torch file: the figures never need one, and building a
    real tensor would mean calling torch's code on the file's say-so."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "_Dropped":
        return super().__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


class _TorchFileUnpickler(_PlainUnpickler):
    """The pickle inside a ``torch.save`` file, with torch's globals (tensor rebuilders, storage types) and
    the storages replaced by :class:`_Dropped`; everything else as :class:`_PlainUnpickler`."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" or module.startswith("torch."):
            return _Dropped
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        return _Dropped()


#: the first pickle of a ``torch.save`` file in the legacy (pre-zip) format
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def _torch_load(path: Path) -> Any:
    """The object a ``torch.save`` file holds, zip or legacy format, without its tensors' data."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n == "data.pkl" or n.endswith("/data.pkl")]
                if not names:
                    raise BenchmarkError(f"{path}: a zip file without data.pkl, so not a torch.save file")
                with archive.open(names[0]) as fh:
                    return _TorchFileUnpickler(fh).load()
        with open(path, "rb") as fh:
            if _PlainUnpickler(fh).load() != _LEGACY_MAGIC:
                raise BenchmarkError(f"{path}: not a torch.save file (no torch magic number)")
            _PlainUnpickler(fh).load()  # protocol version
            _PlainUnpickler(fh).load()  # sys_info
            return _TorchFileUnpickler(fh).load()
    except BenchmarkError:
        raise
    except _Refused as exc:
        raise BenchmarkError(f"{path}: holds objects other than plain data ({exc}); nascore reads only plain "
                             "results, since loading other objects could run code from the file") from None
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise BenchmarkError(f"{path}: not a readable torch.save file ({exc})") from None


def _pickle_load(path: Path) -> Any:
    try:
        with bz2.open(path, "rb") as fh:
            return _PlainUnpickler(io.BufferedReader(fh)).load()
    except _Refused as exc:
        raise BenchmarkError(f"{path}: holds objects other than plain data ({exc}); nascore reads only plain "
                             "results, since loading other objects could run code from the file") from None
    except (pickle.UnpicklingError, OSError, EOFError, ValueError) as exc:
        raise BenchmarkError(f"{path}: not a bz2-compressed pickle ({exc})") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- the three layouts -----------------------------------------------------------------------------------
@dataclass
class OfficialSource:
    """The architectures of an official file and a way to fetch each one's schedules."""

    path: Path
    format: str
    meta_archs: list[str]
    entry: Callable[[int], Mapping[str, Any] | None]  # index -> {schedule: ArchResults state}, None if absent
    sha256: str


def _whole_dict(path: Path, data: Any, fmt: str) -> OfficialSource:
    if not isinstance(data, Mapping):
        raise BenchmarkError(f"{path}: holds a {type(data).__name__}, not the benchmark's dict")
    missing = [key for key in ("meta_archs", "arch2infos") if key not in data]
    if missing:
        raise BenchmarkError(f"{path}: lacks {', '.join(missing)}; the benchmark's dict has meta_archs, "
                             f"arch2infos and evaluated_indexes (this one has {', '.join(map(str, data))})")
    infos = data["arch2infos"]
    if not isinstance(infos, Mapping):
        raise BenchmarkError(f"{path}: arch2infos is a {type(infos).__name__}, not a dict by architecture index")
    return OfficialSource(path, fmt, _arch_list(path, data["meta_archs"]), infos.get, _sha256(path))


def _arch_list(path: Path, meta_archs: Any) -> list[str]:
    if not isinstance(meta_archs, (list, tuple)) or not all(isinstance(a, str) for a in meta_archs):
        raise BenchmarkError(f"{path}: meta_archs is not a list of architecture strings")
    return list(meta_archs)


def _archive_folder(path: Path) -> OfficialSource:
    meta_file = path / NATS_META
    if not meta_file.is_file():
        raise BenchmarkError(f"{path}: a folder of the benchmark holds {NATS_META} and one 000000{NATS_SUFFIX} per "
                             f"architecture (NATS-tss-v1_0-3ffb9-simple); this one has no {NATS_META}")
    meta = _pickle_load(meta_file)
    if not isinstance(meta, Mapping) or "meta_archs" not in meta:
        raise BenchmarkError(f"{meta_file}: lacks meta_archs")

    def entry(index: int) -> Mapping[str, Any] | None:
        file = path / f"{index:06d}{NATS_SUFFIX}"
        return _pickle_load(file) if file.is_file() else None

    return OfficialSource(path, "nats-simple", _arch_list(meta_file, meta["meta_archs"]), entry, _sha256(meta_file))


#: memory a whole-file layout takes once unpickled, per byte of the (uncompressed) pickle: measured on a file of the
#: benchmark's shape (200 epochs, four datasets, two seeds): 420 MB of Python objects for an 87 MB file
MEMORY_PER_FILE_BYTE = 5.0
#: how much of a .pickle.pbz2 file is decompressed to measure its compression ratio
_RATIO_SAMPLE = 64 << 20


def available_memory() -> int | None:
    """Bytes of memory this machine can still give (Linux ``MemAvailable``), or None where it cannot tell."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _bz2_pickle_bytes(path: Path) -> float:
    """The size of a bz2 file's content: exact for a small file, else its first :data:`_RATIO_SAMPLE`
    decompressed bytes' ratio applied to the whole file (nothing is kept)."""
    decompressor, fed, out = bz2.BZ2Decompressor(), 0, 0
    with open(path, "rb") as fh:
        while out < _RATIO_SAMPLE and not decompressor.eof:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            fed += len(chunk)
            try:
                out += len(decompressor.decompress(chunk))
            except (OSError, EOFError, ValueError) as exc:
                raise BenchmarkError(f"{path}: not a bz2-compressed pickle ({exc})") from None
    size = path.stat().st_size
    return float(out) if decompressor.eof or fed >= size else out / max(fed, 1) * size


def _check_memory(path: Path, pickle_bytes: float) -> None:
    """Refuse, before reading, a whole file that would not fit in memory once unpickled (the benchmark's
    v1_1 file needs about 22 GB), rather than let the machine swap or the process be killed."""
    needed = pickle_bytes * MEMORY_PER_FILE_BYTE
    free = available_memory()
    if free is not None and needed > free:
        raise BenchmarkError(f"{path}: reading this {path.stat().st_size / 1e9:.1f} GB file needs about "
                             f"{needed / 1e9:.0f} GB of memory, and this machine has {free / 1e9:.0f} GB free. The "
                             "NATS-Bench folder NATS-tss-v1_0-3ffb9-simple holds the same results and is read one "
                             "architecture at a time; import that, or use a machine with more memory")


def open_official(path: str | Path) -> OfficialSource:
    """The official results at ``path``: a ``.pth`` file, a ``.pickle.pbz2`` file, or a ``-simple`` folder."""
    path = Path(path)
    if path.is_dir():
        return _archive_folder(path)
    if not path.is_file():
        raise BenchmarkError(f"{path}: no such file or folder")
    if path.name.endswith(".pth"):
        _check_memory(path, path.stat().st_size)
        return _whole_dict(path, _torch_load(path), "nas-bench-201-pth")
    if path.name.endswith(".pbz2"):
        _check_memory(path, _bz2_pickle_bytes(path))
        return _whole_dict(path, _pickle_load(path), "nats-pbz2")
    raise BenchmarkError(f"{path}: not a NAS-Bench-201 file nascore knows; give a .csv table, an official .pth "
                         f"file, a NATS-Bench .pickle.pbz2 file or a NATS-tss ...-simple folder")


# ---- figures of one architecture -------------------------------------------------------------------------
def _pick(container: Any, key: Any, what: str) -> Any:
    try:
        return container[key]
    except (KeyError, IndexError, TypeError):
        raise _Missing(f"no {what}") from None


def _summed(times: Any, keys: list[Any], what: str) -> float:
    if not times:
        raise _Missing(f"no {what}")
    return float(sum(float(_pick(times, key, f"{what} for {key!r}")) for key in keys))


def trial_figures(trial: Mapping[str, Any], setting: Setting) -> dict[str, float]:
    """The last epoch's figures of one trial (one seed), times summed over its epochs."""
    epochs = int(_pick(trial, "epochs", "epoch count"))
    if epochs < 1:
        raise _Missing(f"a trial of {epochs} epochs")
    last = epochs - 1
    figures = {"train_acc": _pick(_pick(trial, "train_acc1es", "training accuracies"), last,
                                  f"training accuracy at epoch {last}"),
               "train_loss": _pick(_pick(trial, "train_losses", "training losses"), last,
                                   f"training loss at epoch {last}"),
               "train_time": _summed(trial.get("train_times"), list(range(epochs)), "training times")}
    for prefix, set_name in (("valid", setting.valid_set), ("test", setting.test_set)):
        key = f"{set_name}@{last}"
        figures[f"{prefix}_acc"] = _pick(_pick(trial, "eval_acc1es", "evaluation accuracies"), key, f"{key} accuracy")
        figures[f"{prefix}_loss"] = _pick(_pick(trial, "eval_losses", "evaluation losses"), key, f"{key} loss")
        figures[f"{prefix}_time"] = _summed(trial.get("eval_times"), [f"{set_name}@{i}" for i in range(epochs)],
                                            f"{set_name} times")
    for prefix in ("train", "valid", "test"):
        figures[f"{prefix}_epoch_time"] = figures[f"{prefix}_time"] / epochs
    return {name: float(value) for name, value in figures.items()}


def arch_figures(results: Mapping[str, Any], setting: Setting) -> dict[str, float]:
    """One architecture's figures on one dataset (an ``ArchResults`` state dict), averaged over its seeds."""
    seeds_by_dataset = _pick(results, "dataset_seed", "dataset_seed")
    seeds = seeds_by_dataset.get(setting.key) if isinstance(seeds_by_dataset, Mapping) else None
    if not seeds:
        has = ", ".join(map(str, seeds_by_dataset)) if isinstance(seeds_by_dataset, Mapping) else "none"
        raise _Missing(f"no results for {setting.key} (it has {has or 'none'})")
    trials = _pick(results, "all_results", "all_results")
    per_seed = []
    for seed in seeds:
        try:
            figures = trial_figures(_pick(trials, (setting.key, seed), "trial"), setting)
        except (_Missing, TypeError, ValueError) as exc:
            raise _Missing(f"seed {seed}: {exc}") from None
        for name, value in figures.items():  # a seed out of range can hide in an average that is not
            wrong = range_problem(name, value)
            if wrong:
                raise _Missing(f"seed {seed}: {METRICS[name].title} {value} {wrong}")
        per_seed.append(figures)
    return {name: float(np.mean([figures[name] for figures in per_seed])) for name in METRICS}


def _schedule(entry: Mapping[str, Any], epochs: str) -> Mapping[str, Any]:
    by_epochs = {_SCHEDULE_ALIASES.get(str(key), str(key)): value for key, value in entry.items()}
    if epochs not in by_epochs:
        raise _Missing(f"no results for the {epochs}-epoch schedule (it has {', '.join(sorted(by_epochs)) or 'none'})")
    return by_epochs[epochs]


# ---- import ----------------------------------------------------------------------------------------------
def import_official(path: str | Path, dataset: str = "cifar10", epochs: str = "200",
                    progress: Callable[[int, int], None] | None = None) -> NB201Table:
    """Read and check an official benchmark file (or NATS-Bench folder) for one dataset and schedule; every
    problem is named by architecture index, and nothing half-read becomes a table.  ``progress(done, total)``
    is called after each architecture (the -simple folder takes minutes)."""
    if dataset not in SETTINGS:
        raise BenchmarkError(f"unknown dataset {dataset!r}; NAS-Bench-201 has {', '.join(SETTINGS)}")
    epochs = str(epochs)
    if epochs not in SCHEDULES:
        raise BenchmarkError(f"NAS-Bench-201 trained each cell for {' or '.join(SCHEDULES)} epochs, not {epochs}")
    started = time.perf_counter()
    source = open_official(path)
    setting = SETTINGS[dataset]
    builder = TableBuilder(str(source.path))
    total = len(source.meta_archs)
    for index, arch in enumerate(source.meta_archs):
        if progress is not None:
            progress(index, total)
        where = f"architecture #{index}"
        entry = source.entry(index)
        if entry is None:
            builder.rows += 1
            builder.problem(where, f"{arch} has no results (not among the evaluated architectures)")
            continue
        try:
            if not isinstance(entry, Mapping):
                raise _Missing(f"results are a {type(entry).__name__}, not a dict by schedule")
            results = _schedule(entry, epochs)
            stated = results.get("arch_str") if isinstance(results, Mapping) else None
            if stated is not None and stated != arch:
                raise _Missing(f"its results are for {stated}, but meta_archs names {arch}")
            figures = arch_figures(results, setting)
        except (_Missing, TypeError, ValueError, AttributeError) as exc:
            builder.rows += 1
            builder.problem(where, f"{arch}: {exc}")
            continue
        builder.add(where, arch, figures, labels={name: f"{m.title} ({setting.key}, {epochs} epochs)"
                                                  for name, m in METRICS.items()}, arch_label="meta_archs")
    if progress is not None:
        progress(total, total)
    meta = {"source": str(source.path.resolve()), "sha256": source.sha256, "format": source.format,
            "epochs": int(epochs), "setting": setting.key, "valid_set": setting.valid_set,
            "test_set": setting.test_set, "imported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "parse_seconds": round(time.perf_counter() - started, 3)}
    return builder.finish(dataset, meta)


def is_official(path: str | Path) -> bool:
    """Whether ``path`` names an official file or folder rather than a CSV table."""
    path = Path(path)
    return path.is_dir() or path.name.endswith((".pth", ".pbz2"))


def import_results(path: str | Path, dataset: str = "cifar10", epochs: str | None = None,
                   progress: Callable[[int, int], None] | None = None) -> NB201Table:
    """Any NAS-Bench-201 results the user has: the CSV layout or the official files (``epochs`` picks the
    official files' schedule, 200 by default; a CSV holds one set of figures, so it takes none)."""
    if is_official(path):
        return import_official(path, dataset, epochs or "200", progress)
    if epochs is not None:
        raise BenchmarkError(f"{path}: --epochs picks a schedule inside the official files (.pth, .pickle.pbz2); "
                             "a CSV table holds one set of figures")
    return import_csv(path, dataset)


__all__ = ["SCHEDULES", "SETTINGS", "OfficialSource", "Setting", "arch_figures", "available_memory", "import_official",
           "import_results", "is_official", "open_official", "trial_figures"]
