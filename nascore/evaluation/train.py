"""Train a genotype's stand-alone network from scratch and test it (DARTS's evaluation protocol).

Agnostic to origin: the genotype may come from any optimizer's search, a published name
or a hand-written architecture; only the space it belongs to matters.  The run emits the
same typed events as a search (``run_started``, sampled ``step`` metrics, one ``eval_epoch``
per epoch, ``checkpoint`` when it keeps one, ``finished`` or ``failed``) to any number of
sinks and honours a stop check called every step.  Given a checkpoint path it saves its
state after each epoch and a later call with the same path continues from there, exactly
as an uninterrupted run would, renumbering events from the checkpoint (like a search).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from nascore.data import DataSettings, cutout
from nascore.runtime import RuntimeSettings
from nascore.settings import (RunConfig, Settings, defaults_of, fields_of, setting, validate_settings,
                              without_placement)
from nascore.events import CheckpointSaved, Event, EventBus, RunFailed, RunFinished, RunStarted, StepMetrics
from nascore.spaces import SpaceSettings, size_errors


class StandaloneTrainingSettings(Settings):
    """How a stand-alone network is trained.  Defaults follow DARTS's CIFAR-10 evaluation (Liu et al., 2019,
    section A.2) except ``epochs`` (the paper trains 600; 20 here for quick use)."""

    title = "Stand-alone training"

    epochs: int = setting(20, "Training epochs.", gt=0, basic=True,
                          source="NASBoard's choice (DARTS, section A.2, trains 600 epochs on CIFAR-10)")
    batch_size: int = setting(96, "Examples per batch.", gt=0, basic=True, source="DARTS, section A.2: 96")
    lr: float = setting(0.025, "SGD learning rate at the first epoch, cosine-annealed per epoch to lr_min.", gt=0,
                        basic=True, source="DARTS, section A.2: 0.025")
    lr_min: float = setting(0.0, "The learning rate at the last epoch.", ge=0,
                            source="DARTS's code (quark0/darts, cnn/train.py: CosineAnnealingLR to 0)")
    momentum: float = setting(0.9, "SGD momentum.", ge=0, lt=1, source="DARTS, section A.2: 0.9")
    weight_decay: float = setting(3e-4, "Weight decay.", ge=0, source="DARTS, section A.2: 3e-4")
    grad_clip: float = setting(5.0, "The gradient norm is clipped to this.", gt=0,
                               source="DARTS's code (cnn/train.py: --grad_clip 5)")
    auxiliary: bool = setting(True, "An auxiliary head after 2/3 of the depth (DARTS-like spaces).",
                              source="DARTS, section A.2: auxiliary towers")
    auxiliary_weight: float = setting(0.4, "Weight of the auxiliary head's loss.", ge=0,
                                      source="DARTS, section A.2: 0.4")
    drop_path: float = setting(0.2, "The drop-path probability at the last epoch (it rises linearly from 0).",
                               ge=0, lt=1, source="DARTS, section A.2: path dropout 0.2")
    augment: bool = setting(True, "The dataset's standard train augmentation where it has one (CIFAR: crop and "
                                  "flip).", source="DARTS, section A.2: standard augmentation")
    cutout_length: int = setting(0, "Cutout: a square of this side zeroed at a random place of each training image, "
                                    "clipped at the borders (0: none).", ge=0,
                                 source="NASBoard's choice: DARTS, section A.2, uses cutout 16 on 32x32 CIFAR-10; 0 "
                                        "here because the default dataset is 8x8 digits")

    @classmethod
    def checks(cls, config):
        if config["lr_min"] > config["lr"]:
            return {"lr_min": f"lr_min ({config['lr_min']}) must not exceed lr ({config['lr']})"}
        return {}


def eval_settings() -> list[type[Settings]]:
    """The settings models a stand-alone training is composed of."""
    return [SpaceSettings, DataSettings, RuntimeSettings, StandaloneTrainingSettings]


class EvalConfig(RunConfig):
    """A validated stand-alone training config (``EvalConfig(**values)`` validates and fills defaults in)."""

    groups = staticmethod(eval_settings)


EVAL_FIELD_NAMES = list(fields_of(eval_settings()))


@dataclass
class EvalEpoch(Event):
    """One epoch of stand-alone training: train metrics, then the test set's."""

    epoch: int
    epochs: int
    train_loss: float
    train_acc: float
    test_loss: float
    test_acc: float
    lr: float
    drop_path: float
    seconds: float
    type: str = field(init=False, default="eval_epoch")


class EvaluationFailed(RuntimeError):
    """A training run that cannot go on (the loss diverged, ...)."""


def eval_defaults() -> dict[str, Any]:
    return defaults_of(eval_settings())


def validate_eval_config(raw: Mapping[str, Any] | EvalConfig) -> EvalConfig:
    """An :class:`EvalConfig` for ``raw`` (defaults filled in) or :class:`~nascore.settings.ConfigError`
    mapping every bad field to a message (the same validator as a search's)."""
    if isinstance(raw, RunConfig):
        raw = raw.to_dict()
    return EvalConfig.trusted(validate_settings(eval_settings(), raw, final_checks=[size_errors]))


def drop_path_at(cfg: EvalConfig, epoch: int) -> float:
    """DARTS's schedule: the drop-path probability of 0-based ``epoch`` rises linearly from 0."""
    return cfg.drop_path * epoch / cfg.epochs


@torch.no_grad()
def test_model(model: nn.Module, batches: Any) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over one pass of ``batches`` (eval mode)."""
    was_training = model.training
    model.eval()
    loss_sum, correct, count = 0.0, 0, 0
    for x, y in batches:
        logits = model(x)
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        count += int(y.numel())
    model.train(was_training)
    return loss_sum / max(count, 1), correct / max(count, 1)


@dataclass
class EpochTotals:
    """Sums over one training epoch's steps; ``cancelled`` when the stop check ended it early."""

    loss_sum: float = 0.0
    correct: int = 0
    count: int = 0
    cancelled: bool = False

    def means(self) -> dict[str, float]:
        return {"train_loss": self.loss_sum / max(self.count, 1), "train_acc": self.correct / max(self.count, 1)}


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, cfg: EvalConfig, next_batch: Callable[[], Any],
                steps: int, epoch: int, stop_check: Callable[[], bool] | None = None,
                on_step: Callable[[int, float, int, int], None] | None = None) -> EpochTotals:
    """One epoch of the stand-alone protocol (cross-entropy plus the weighted auxiliary loss, gradient clipping),
    shared by the evaluator and the selection stage's short retraining.  ``on_step(step, loss_sum, correct, n)``
    follows each step; raises EvaluationFailed when the loss diverges (``epoch`` is 0-based, for the message)."""
    totals = EpochTotals()
    for step in range(1, steps + 1):
        if stop_check is not None and stop_check():
            totals.cancelled = True
            break
        x, y = next_batch()
        if cfg.cutout_length > 0:  # after the stream's own augmentation, from the seeded global RNG
            x = cutout(x, cfg.cutout_length)
        optimizer.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        aux = getattr(model, "aux_logits", None)
        if cfg.auxiliary and aux is not None:
            loss = loss + cfg.auxiliary_weight * F.cross_entropy(aux, y)
        if not torch.isfinite(loss.detach()):
            raise EvaluationFailed(f"the training loss became {float(loss.detach())} at epoch {epoch + 1}, step "
                                   f"{step}; try a lower learning rate (lr) or a smaller grad_clip")
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        n = int(y.numel())
        step_loss = float(F.cross_entropy(logits.detach(), y, reduction="sum"))
        step_correct = int((logits.detach().argmax(1) == y).sum())
        totals.loss_sum += step_loss
        totals.correct += step_correct
        totals.count += n
        if on_step is not None:
            on_step(step, step_loss, step_correct, n)
    return totals


def evaluate_genotype(space_name: str, genotype: Any, config: EvalConfig | dict[str, Any] | None = None,
                      sinks: Sequence[Callable[[int, dict], None]] = (),
                      stop_check: Callable[[], bool] | None = None,
                      checkpoint: str | os.PathLike | None = None) -> dict[str, Any]:
    """Train the network of ``genotype`` (a published name or a genotype of ``space_name``)
    from scratch with ``config`` and test it on the dataset's test set after every epoch.

    Returns ``{space, genotype, params, flops, test_acc, test_loss, train_acc, train_loss,
    epochs, config, seed, seconds, status, device, dataset}``: ``params`` leave out the
    auxiliary head, ``flops`` are MACs of one image (see :func:`~nascore.evaluation.measure.count_flops`),
    ``epochs`` the number of epochs completed and ``status`` ``"finished"`` or ``"cancelled"``
    (the stop check returned true; metrics are then those of the last completed epoch, None
    before the first).  With ``checkpoint`` (a file path) the state is saved atomically after
    every epoch, and when that file exists the run continues from it (weights, optimizer,
    schedule, data order and RNG), so cancel-and-call-again ends exactly where an uninterrupted
    run ends; a checkpoint of another config or genotype raises EvaluationFailed.  Raises
    ConfigError for a bad config, ValueError for an unknown space, GenotypeError for a genotype
    outside the space, and EvaluationFailed (after a ``failed`` event) when training diverges.
    With a seed a CPU run is deterministic.
    """
    from nascore import checkpoint as ckpt
    from nascore.data import get_spec, test_loader, train_loader
    from nascore.device import resolve_device
    from nascore.evaluation.measure import count_flops, count_params
    from nascore.spaces import get_space
    from nascore.versions import package_versions

    try:
        space = get_space(space_name)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    base = config.to_dict() if isinstance(config, EvalConfig) else dict(config or {})
    cfg = validate_eval_config({**base, "space": space_name})
    parsed = space.resolve(genotype)
    device = resolve_device(cfg.device)
    spec = get_spec(cfg.dataset, cfg.data_dir)
    channels = cfg.channels or space.default_channels
    layers = cfg.layers or space.default_layers
    checkpoint_path = Path(checkpoint) if checkpoint is not None else None

    started = time.time()
    ckpt.seed_everything(cfg.seed)
    model = space.build_network(parsed, channels, layers, spec.in_channels, spec.num_classes,
                                auxiliary=cfg.auxiliary, drop_path=cfg.drop_path > 0)
    params = count_params(model)
    flops = count_flops(model, (spec.in_channels, spec.image_size, spec.image_size))
    model = model.to(device)
    train_stream = train_loader(cfg.dataset, cfg.data_dir, cfg.download, cfg.batch_size, device=device,
                                augment=cfg.augment, seed=cfg.seed, num_workers=cfg.num_workers)
    test_stream = test_loader(cfg.dataset, cfg.data_dir, cfg.download, cfg.batch_size, device=device,
                              num_workers=cfg.num_workers)
    steps = len(train_stream) if cfg.steps_per_epoch is None else min(len(train_stream), cfg.steps_per_epoch)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs, eta_min=cfg.lr_min)

    config_record = {**cfg.to_dict(), "channels": channels, "layers": layers, "genotype": parsed}
    bus = EventBus(list(sinks))
    last: dict[str, Any] = {"train_loss": None, "train_acc": None, "test_loss": None, "test_acc": None}
    epoch, status, elapsed = 0, "finished", 0.0
    resumed = checkpoint_path is not None and checkpoint_path.exists()
    if resumed:
        assert checkpoint_path is not None
        state = ckpt.load(checkpoint_path, map_location=device)
        if without_placement(state["config"]) != without_placement(config_record):
            raise EvaluationFailed(f"the checkpoint {checkpoint_path} was written by a training run with another "
                                   "config or genotype; remove it or use another path")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        train_stream.load_state_dict(state["data"])
        ckpt.set_rng_state(state["rng"])
        epoch, last, elapsed = state["epoch"], dict(state["last"]), float(state["seconds"])
        bus.rewind(state["seq"])

    def save_checkpoint() -> None:
        assert checkpoint_path is not None
        checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        ckpt.save_atomic({"epoch": epoch, "seq": bus.seq + 1,  # the checkpoint event belongs to the checkpoint
                          "config": config_record, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "scheduler": scheduler.state_dict(), "data": train_stream.state_dict(),
                          "rng": ckpt.rng_state(), "last": last, "seconds": elapsed + time.time() - started},
                         checkpoint_path)
        bus.emit(CheckpointSaved(epoch=epoch, path=str(checkpoint_path)))

    bus.emit(RunStarted(config=config_record, versions=package_versions(), device=str(device), epochs=cfg.epochs,
                        steps_per_epoch=steps, start_epoch=epoch, resumed=resumed))
    try:
        while epoch < cfg.epochs:
            epoch_started = time.time()
            drop = drop_path_at(cfg, epoch)
            model.set_drop_path(drop)
            lr = optimizer.param_groups[0]["lr"]
            model.train()

            def log_step(step: int, step_loss: float, step_correct: int, n: int) -> None:
                if step % cfg.step_log_every == 0 or step == 1:
                    bus.emit(StepMetrics(epoch=epoch + 1, step=step, steps_per_epoch=steps,
                                         train_loss=step_loss / max(n, 1), train_acc=step_correct / max(n, 1)))

            totals = train_epoch(model, optimizer, cfg, train_stream.next_batch, steps, epoch, stop_check, log_step)
            if totals.cancelled:
                status = "cancelled"
                break
            scheduler.step()
            test_loss, test_acc = test_model(model, test_stream)
            epoch += 1
            last = {**totals.means(), "test_loss": test_loss, "test_acc": test_acc}
            bus.emit(EvalEpoch(epoch=epoch, epochs=cfg.epochs, lr=lr, drop_path=drop,
                               seconds=time.time() - epoch_started, **last))
            if checkpoint_path is not None:
                save_checkpoint()
    except Exception as exc:
        bus.emit(RunFailed(epoch=epoch, reason=f"{type(exc).__name__}: {exc}"))
        raise
    result = {"space": space_name, "genotype": parsed, "params": params, "flops": flops, **last,
              "epochs": epoch, "status": status, "dataset": cfg.dataset, "device": str(device),
              "config": config_record, "seed": cfg.seed, "seconds": elapsed + time.time() - started}
    bus.emit(RunFinished(status=status, epoch=epoch, result=result))
    return result
