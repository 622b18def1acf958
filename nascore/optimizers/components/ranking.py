"""Scoring architectures with one-shot weights: what sampling methods derive from, and the first
stage of choosing a final architecture (sample many, rank by one-shot validation loss)."""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from nascore.networks.sampled import SampledRows


Batch = tuple[torch.Tensor, torch.Tensor]
Columns = dict[str, list[int]]


@torch.no_grad()
def oneshot_scores(model: nn.Module, archs: Sequence[Columns], batches: Iterable[Batch]) -> list[tuple[float, float]]:
    """``(loss, accuracy)`` of each architecture (one column per edge row per cell type) on ``batches``, with the
    supernet's shared weights.  BatchNorm uses each batch's statistics (single paths make the running averages
    of a supernet a poor fit) and no running statistic changes."""
    batches = list(batches)
    out = []
    for arch in archs:
        score = supernet_score(model, {ct: SampledRows(cols) for ct, cols in arch.items()}, batches)
        assert score is not None  # no stop check, so never stopped
        out.append(score)
    return out


@torch.no_grad()
def supernet_score(model: nn.Module, weights: object, batches: Iterable[Batch],
                   stop_check: Callable[[], bool] | None = None) -> tuple[float, float] | None:
    """``(loss, accuracy)`` of the supernet run on ``weights`` (whatever its ``forward(x, weights)`` takes) over
    ``batches``, with each batch's BatchNorm statistics and no running statistic changed; None when
    ``stop_check`` (asked before every batch) says stop."""
    from nascore.curvature import frozen_batch_stats

    loss, correct, count = 0.0, 0, 0
    with frozen_batch_stats(model):
        for x, y in batches:
            if stop_check is not None and stop_check():
                return None
            logits = model(x, weights)
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            count += int(y.numel())
    return loss / max(count, 1), correct / max(count, 1)


@torch.no_grad()
def recalibrate_batch_norm(model: nn.Module, weights: object, batches: Iterable[Batch]) -> None:
    """SPOS's BN recalibration: the running statistics of every BatchNorm become the plain average over
    ``batches`` of the statistics ``model(x, weights)`` sees (train mode), so that an architecture picked out of
    a supernet is evaluated with statistics of its own paths.  Changes nothing else."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    was_training = model.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
    model.train()
    try:
        for x, _ in batches:
            model(x, weights)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.train(was_training)
