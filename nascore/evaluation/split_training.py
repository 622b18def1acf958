"""Short stand-alone training inside a search: a genotype's network trained from scratch on the search's
train split and scored on its validation split.

This is what the selection stage (:mod:`nascore.selection`) retrains candidates with.  It follows the
stand-alone evaluator's protocol (:class:`~nascore.evaluation.train.EvalConfig`: SGD with momentum, cosine
schedule per epoch, gradient clipping, the optional auxiliary head and scheduled drop-path), but reads the
two halves of the training set a search reads, so the test set stays untouched until the final evaluation.
The global random state is forked, so training a candidate changes nothing the caller depends on.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from nascore import checkpoint as ckpt
from nascore.data import SearchData
from nascore.evaluation.train import EvalConfig, drop_path_at, test_model, train_epoch
from nascore.networks.layout import use_channels_last
from nascore.spaces.base import SearchSpace

EpochCallback = Callable[[int, dict[str, Any]], None]


def train_on_search_split(space: SearchSpace, genotype: Any, cfg: EvalConfig, data: SearchData, steps: int,
                          device: torch.device, stop_check: Callable[[], bool] | None = None,
                          on_epoch: EpochCallback | None = None, channels_last: bool = False) -> dict[str, Any] | None:
    """Train ``genotype``'s network (``cfg.channels`` x ``cfg.layers``, seeded by ``cfg.seed``) for ``cfg.epochs``
    epochs of ``steps`` batches of ``data.train``, scoring it on the whole of ``data.val`` after each epoch.

    Returns ``{val_loss, val_acc, train_loss, train_acc, params, epochs}`` (the last epoch's), or None when the
    stop check asked to stop.  ``on_epoch(epoch, metrics)`` follows every epoch.  The train stream is read from
    where it stands: callers that compare several genotypes reset it to the same state before each.  Raises
    EvaluationFailed when the loss diverges.
    """
    from nascore.evaluation.measure import count_params

    spec = data.spec
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        ckpt.seed_everything(cfg.seed)
        model: nn.Module = space.build_network(genotype, cfg.channels, cfg.layers, spec.in_channels, spec.num_classes,
                                               auxiliary=cfg.auxiliary, drop_path=cfg.drop_path > 0)
        params = count_params(model)
        model = model.to(device)
        if channels_last:
            use_channels_last(model)
        optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs, eta_min=cfg.lr_min)
        metrics: dict[str, Any] = {}
        for epoch in range(cfg.epochs):
            model.set_drop_path(drop_path_at(cfg, epoch))
            model.train()
            totals = train_epoch(model, optimizer, cfg, data.train.next_batch, steps, epoch, stop_check)
            if totals.cancelled:
                return None
            scheduler.step()
            val_loss, val_acc = test_model(model, data.val_batches())
            metrics = {"val_loss": val_loss, "val_acc": val_acc, **totals.means(), "params": params,
                       "epochs": epoch + 1}
            if on_epoch is not None:
                on_epoch(epoch + 1, dict(metrics))
    return metrics
