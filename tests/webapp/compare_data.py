"""Stored experiments with results, events and retrains, built directly in the database (never queued, so no
worker runs them), for the comparison and leaderboard tests."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any, Sequence

from django.utils import timezone

from webapp.experiments.models import Event, Experiment, Kind, Result, Status

OPS = ["none", "max_pool_3x3", "skip_connect", "sep_conv_3x3"]
EDGES = [f"{src}→{dst}" for dst in range(2, 4) for src in range(dst)]


def darts_genotype(third: str = "skip_connect") -> dict[str, Any]:
    """A small DARTS-like genotype; ``third`` is the op of the third normal edge (what the tests vary)."""
    return {"normal": [["sep_conv_3x3", 0], ["sep_conv_3x3", 1], [third, 0], ["sep_conv_3x3", 1]], "normal_concat": [2, 3],
            "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1], ["skip_connect", 2], ["max_pool_3x3", 0]],
            "reduce_concat": [2, 3]}


def config(seed: int = 0, **changes: Any) -> dict[str, Any]:
    return {"space": "darts", "optimizer": "darts", "dataset": "digits", "epochs": 3, "batch_size": 32, "w_lr": 0.025,
            "seed": seed, "device": "cpu", **changes}


def make_run(owner: Any, name: str, seed: int = 0, val_accs: Sequence[float] = (0.5, 0.6, 0.7), genotype: Any = None,
             status: str = Status.FINISHED, params: int | None = 1000, flops: int | None = 5000,
             eigenvalues: Sequence[float] | None = None, epoch_seconds: float = 10.0, kind: str = Kind.SEARCH,
             parent: Experiment | None = None, test_acc: float | None = None, **config_changes: Any) -> Experiment:
    """An experiment with one epoch event per validation accuracy (loss 1 - acc, ``epoch_seconds`` each), optional
    curvature points, and a result (when finished) whose best and final validation accuracy come from ``val_accs``."""
    cfg = config(seed, **config_changes)
    now = timezone.now()
    exp = Experiment.objects.create(
        owner=owner, name=name, config=cfg, space=cfg["space"], optimizer=cfg["optimizer"], dataset=cfg["dataset"],
        seed=seed, device_requested="cpu", queue="not-queued", status=status, dispatch=1, kind=kind, parent=parent,
        epochs=len(val_accs), epochs_done=len(val_accs), best_val_acc=max(val_accs) if val_accs else None,
        last_val_acc=val_accs[-1] if val_accs else None, started_at=now - timedelta(minutes=5), ended_at=now)
    seq = 0
    for epoch, acc in enumerate(val_accs, start=1):
        seq += 1
        if kind == Kind.RETRAIN:  # stand-alone training reports the test set each epoch, as a real retrain does
            Event.objects.create(experiment=exp, seq=seq, type="eval_epoch", payload={
                "v": 1, "time": time.time(), "epoch": epoch, "epochs": len(val_accs), "train_loss": 1.0,
                "train_acc": acc, "test_loss": round(1 - acc, 6), "test_acc": acc, "lr": 0.02, "drop_path": 0.0,
                "seconds": epoch_seconds})
            continue
        Event.objects.create(experiment=exp, seq=seq, type="epoch", payload={
            "v": 1, "time": time.time(), "epoch": epoch, "epochs": len(val_accs), "train_loss": 1.0, "train_acc": acc,
            "val_loss": round(1 - acc, 6), "val_acc": acc, "lr": 0.02, "seconds": epoch_seconds})
        if eigenvalues is not None and epoch <= len(eigenvalues):
            seq += 1
            Event.objects.create(experiment=exp, seq=seq, type="curvature", payload={
                "v": 1, "epoch": epoch, "eigenvalue": eigenvalues[epoch - 1], "trace": None, "seconds": 1.0})
    if kind == Kind.SEARCH:
        seq += 1
        Event.objects.create(experiment=exp, seq=seq, type="arch", payload={
            "v": 1, "epoch": len(val_accs), "kind": "softmax",
            "cells": {c: {"edges": EDGES, "ops": OPS, "weights": [[0.1, 0.2, 0.3, 0.4]] * len(EDGES)} for c in ("normal", "reduce")}})
    exp.last_seq = seq
    exp.save(update_fields=["last_seq"])
    if status in (Status.FINISHED, Status.STOPPED_EARLY):
        Result.objects.create(experiment=exp, genotype=genotype if genotype is not None else darts_genotype(),
                              best_val_acc=max(val_accs), val_acc=val_accs[-1], params=params, flops=flops,
                              epochs_completed=len(val_accs), test_acc=test_acc,
                              raw={"genotype_params": params, "flops": flops} if kind == Kind.SEARCH else {})
    return exp


def make_retrain(search: Experiment, test_acc: float, seed: int = 0, params: int = 3_000_000,
                 status: str = Status.FINISHED) -> Experiment:
    """A finished retrain of ``search`` with its test accuracy (two epochs of 30 s)."""
    genotype = Result.objects.get(experiment=search).genotype
    exp = make_run(search.owner, f"retrain of #{search.pk}", seed=seed, val_accs=(0.8, 0.9), kind=Kind.RETRAIN,
                   parent=search, test_acc=test_acc, params=params, flops=None, status=status, epoch_seconds=30.0,
                   genotype=genotype)
    exp.config = {**exp.config, "genotype": genotype}  # as a real retrain's config carries its architecture
    exp.save(update_fields=["config"])
    return exp
