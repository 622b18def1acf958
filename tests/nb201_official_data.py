"""Files in the official NAS-Bench-201 layouts, written from a known table, so a test can check that reading
them gives the table back.

The layout follows Dong and Yang's ``nas_201_api`` (``ArchResults``/``ResultsCount`` state dicts) and
NATS-Bench.  Every figure the reader must *not* use is written with a different value: the earlier epochs,
the ``cifar10`` (train+valid) setting, CIFAR-100's ``ori-test`` (validation and test images together), and
the other schedule; so reading the wrong key changes the result.
"""
from __future__ import annotations

import bz2
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nascore.benchmarks.nb201 import NUM_ARCHS, NB201Table, code_arch

EPOCHS = 2
SEEDS = (777, 888)
#: the benchmark's name of each dataset, its validation set and its test set
SETS = {"cifar10": ("cifar10-valid", "x-valid", "ori-test"), "cifar100": ("cifar100", "x-valid", "x-test")}


def _spread(value: float, high: float | None) -> tuple[float, float]:
    """Two seeds' values whose mean is ``value`` and that stay in range."""
    room = value if high is None else min(value, high - value)
    step = min(0.25, room / 2)
    return value - step, value + step


def _trial(table: NB201Table, code: int, seed_no: int, test_set: str, valid_set: str) -> dict[str, Any]:
    """One seed's ResultsCount state dict: the table's figures at the last epoch, decoys before it."""
    def fig(name: str) -> float:
        high = 100.0 if name.endswith("_acc") else None
        return float(_spread(float(table.metric(name)[code]), high)[seed_no])

    last = EPOCHS - 1
    trial = {"name": "infer.tiny", "net_state_dict": None, "seed": SEEDS[seed_no], "epochs": EPOCHS,
             "params": 0.4, "flop": 50.0, "latency": [0.01], "arch_config": {"arch_str": code_arch(code)},
             "train_acc1es": {e: (fig("train_acc") if e == last else 1.0) for e in range(EPOCHS)},
             "train_acc5es": None,
             "train_losses": {e: (fig("train_loss") if e == last else 9.0) for e in range(EPOCHS)},
             "train_times": {e: fig("train_epoch_time") * (0.5 + e) for e in range(EPOCHS)},
             "eval_names": [valid_set, test_set, "decoy"], "eval_acc1es": {}, "eval_losses": {}, "eval_times": {}}
    for set_name, prefix in ((valid_set, "valid"), (test_set, "test"), ("decoy", "test")):
        for e in range(EPOCHS):
            key = f"{set_name}@{e}"
            decoy = set_name == "decoy" or e != last
            trial["eval_acc1es"][key] = 2.0 if decoy else fig(f"{prefix}_acc")
            trial["eval_losses"][key] = 8.0 if decoy else fig(f"{prefix}_loss")
            trial["eval_times"][key] = fig(f"{prefix}_epoch_time") * (0.5 + e)
    return trial


def arch_results(table: NB201Table, code: int, dataset: str, decoy_table: NB201Table) -> dict[str, Any]:
    """An ArchResults state dict: the table's dataset under its benchmark name, and a decoy setting."""
    key, valid_set, test_set = SETS[dataset]
    other = "cifar10" if dataset == "cifar10" else "ImageNet16-120"  # a setting that must not be read
    all_results: dict[tuple[str, int], Any] = {}
    for name, source, test in ((key, table, test_set), (other, decoy_table, "ori-test")):
        for seed_no, seed in enumerate(SEEDS):
            trial = _trial(source, code, seed_no, test, valid_set)
            if name == key and test_set == "x-test":  # CIFAR-100's ori-test = validation + test images
                trial["eval_acc1es"].update({f"ori-test@{e}": 3.0 for e in range(EPOCHS)})
            all_results[(name, seed)] = trial
    return {"arch_index": code, "arch_str": code_arch(code), "all_results": all_results,
            "dataset_seed": {key: list(SEEDS), other: list(SEEDS)}, "clear_net_done": True}


def index_order() -> list[int]:
    """The codes in the file's index order: a fixed shuffle, since the benchmark's order is not ours."""
    return [int(code) for code in np.random.default_rng(7).permutation(NUM_ARCHS)]


def benchmark_dict(table: NB201Table, decoy_table: NB201Table, dataset: str = "cifar10",
                   schedule_names: tuple[str, str] = ("full", "less"), evaluated: int = NUM_ARCHS) -> dict[str, Any]:
    """The whole-file dict: ``meta_archs`` (all cells), ``arch2infos`` (the first ``evaluated`` of them),
    ``evaluated_indexes``.  The short schedule holds the decoy table."""
    codes = index_order()
    infos = OrderedDict()
    for index, code in enumerate(codes[:evaluated]):
        infos[index] = {schedule_names[0]: arch_results(table, code, dataset, decoy_table),
                        schedule_names[1]: arch_results(decoy_table, code, dataset, decoy_table)}
    return {"meta_archs": [code_arch(c) for c in codes], "arch2infos": infos, "evaluated_indexes": list(infos),
            "total_archs": NUM_ARCHS}


def write_pth(path: Path, data: dict[str, Any]) -> Path:
    torch.save(data, path)
    return path


def write_pbz2(path: Path, data: Any) -> Path:
    with bz2.open(path, "wb", compresslevel=1) as fh:
        pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def write_simple_folder(folder: Path, data: dict[str, Any]) -> Path:
    """The NATS-tss ``-simple`` layout: meta.pickle.pbz2 and one file per evaluated architecture."""
    folder.mkdir(parents=True, exist_ok=True)
    write_pbz2(folder / "meta.pickle.pbz2", {"meta_archs": data["meta_archs"]})
    for index, entry in data["arch2infos"].items():
        write_pbz2(folder / f"{index:06d}.pickle.pbz2", entry)
    return folder
