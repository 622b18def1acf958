"""The search loop: epochs of optimizer steps, events, checkpoints, cancellation, resume.

``run_search`` is the one door through which the CLI and the dashboard start a search:
a config, an output folder, any number of event sinks and a stop check called every step.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from torch.nn import functional as F

from nascore import checkpoint as ckpt
from nascore.config import PLACEMENT_FIELDS, SearchConfig, validate_config
from nascore.data import search_loaders
from nascore.device import resolve_device
from nascore.events import (ArchDistribution, CheckpointSaved, EpochMetrics, EventBus, GenotypeDerived, JsonlSink,
                            LogMessage, RunFailed, RunFinished, RunStarted, StepMetrics)
from nascore.optimizers import get_optimizer
from nascore.optimizers.base import SearchOptimizer
from nascore.spaces import get_space
from nascore.versions import package_versions

CHECKPOINT = "checkpoint.pt"
EVENTS = "events.jsonl"
RESULT = "result.json"

ProgressCallback = Callable[[int, int, int, float], None]  # epoch, step, steps_per_epoch, loss


def _search_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The settings a checkpoint must agree on to be resumed: all but where the run happens."""
    return {k: v for k, v in config.items() if k not in PLACEMENT_FIELDS}


class SearchFailed(RuntimeError):
    """The search could not go on (an exception, a NaN loss); the message says why."""


@dataclass
class RunOutcome:
    status: str  # "finished" or "cancelled"
    result: dict[str, Any]
    out_dir: Path


def tensor_rows(t: torch.Tensor, digits: int = 6) -> list[list[float]]:
    return [[round(float(v), digits) for v in row] for row in t.detach().float().cpu()]


class SearchRun:
    """One search in one output folder; built fully before the first event is emitted."""

    def __init__(self, config: dict[str, Any] | SearchConfig, out_dir: str | Path,
                 sinks: Sequence[Callable[[int, dict], None]] = (), stop_check: Callable[[], bool] | None = None,
                 progress: ProgressCallback | None = None):
        self.cfg = validate_config(config)
        self.out = Path(out_dir)
        self.stop_check = stop_check
        self.progress = progress
        self.device = resolve_device(self.cfg.device)
        ckpt.seed_everything(self.cfg.seed)
        self.space = get_space(self.cfg.space)
        self.data = search_loaders(self.cfg.dataset, self.cfg.data_dir, self.cfg.download, self.cfg.batch_size,
                                   train_portion=self.cfg.train_portion, seed=self.cfg.seed,
                                   num_workers=self.cfg.num_workers, device=self.device)
        self.steps_per_epoch = self.data.steps_per_epoch
        if self.cfg.steps_per_epoch:
            self.steps_per_epoch = min(self.steps_per_epoch, self.cfg.steps_per_epoch)
        self.channels = self.cfg.channels or self.space.default_channels
        self.layers = self.cfg.layers or self.space.default_layers
        self.optimizer: SearchOptimizer = get_optimizer(self.cfg.optimizer)(self.space, self.cfg)
        spec = self.data.spec
        self.model = self.space.build_supernet(self.optimizer.edge_factory(), self.channels, self.layers,
                                               spec.in_channels, spec.num_classes).to(self.device)
        self.optimizer.setup(self.model, self.device)
        self.out.mkdir(parents=True, exist_ok=True)
        self.bus = EventBus([JsonlSink(self.out / EVENTS), *sinks])
        self.epoch = 0
        self.history: dict[str, Any] = {"best_val_acc": None, "last": {}}
        self.started = time.time()

    # ---- checkpoints ----------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        path = self.out / CHECKPOINT
        state = {
            "epoch": self.epoch,
            "seq": self.bus.seq + 1,  # the checkpoint event itself belongs to the checkpoint
            "config": self.cfg.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "data": self.data.state_dict(),
            "rng": ckpt.rng_state(),
            "history": self.history,
        }
        ckpt.save_atomic(state, path)
        self.bus.emit(CheckpointSaved(epoch=self.epoch, path=str(path)))
        return path

    def try_resume(self) -> bool:
        path = self.out / CHECKPOINT
        if not path.exists():
            return False
        state = ckpt.load(path, map_location=self.device)
        if _search_settings(state["config"]) != _search_settings(self.cfg.to_dict()):
            raise SearchFailed(f"the checkpoint in {self.out} was written with another config; "
                               "use a new output folder or resume=False")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.data.load_state_dict(state["data"])
        ckpt.set_rng_state(state["rng"])
        self.history = state["history"]
        self.epoch = state["epoch"]
        self.bus.rewind(state["seq"])
        return True

    def clear_outputs(self) -> None:
        for name in (CHECKPOINT, EVENTS, RESULT):
            (self.out / name).unlink(missing_ok=True)

    # ---- the loop -------------------------------------------------------------------
    def run(self, resume: bool = True) -> RunOutcome:
        resumed = resume and self.try_resume()
        if not resumed:
            self.clear_outputs()
        self.bus.emit(RunStarted(config=self.cfg.to_dict(), versions=package_versions(), device=str(self.device),
                                 epochs=self.cfg.epochs, steps_per_epoch=self.steps_per_epoch,
                                 start_epoch=self.epoch, resumed=resumed))
        try:
            if not resumed:
                self.emit_architecture()
            while self.epoch < self.cfg.epochs:
                if not self.train_epoch():
                    return self.finish("cancelled")
        except SearchFailed as exc:
            self.bus.emit(RunFailed(epoch=self.epoch, reason=str(exc)))
            raise
        except Exception as exc:  # any other error ends the run with its reason
            reason = f"{type(exc).__name__}: {exc}"
            self.bus.emit(RunFailed(epoch=self.epoch, reason=reason))
            raise SearchFailed(reason) from exc
        return self.finish("finished")

    def train_epoch(self) -> bool:
        """One epoch; False if the stop check asked to stop."""
        started = time.time()
        loss_sum, correct, count = 0.0, 0, 0
        for step, (train, val) in enumerate(self.data.epoch_batches(self.steps_per_epoch), start=1):
            if self.stop_check is not None and self.stop_check():
                return False
            stats = self.optimizer.step(train, val)
            if not math.isfinite(stats.loss):
                raise SearchFailed(f"the training loss became {stats.loss} at epoch {self.epoch + 1}, step {step}; "
                                   "try a lower learning rate (w_lr) or a smaller architecture learning rate")
            loss_sum += stats.loss * stats.count
            correct += stats.correct
            count += stats.count
            if self.progress is not None:
                self.progress(self.epoch + 1, step, self.steps_per_epoch, stats.loss)
            if step % self.cfg.step_log_every == 0 or step == 1:
                self.bus.emit(StepMetrics(epoch=self.epoch + 1, step=step, steps_per_epoch=self.steps_per_epoch,
                                          train_loss=stats.loss, train_acc=stats.correct / max(stats.count, 1)))
        val_loss, val_acc = self.validate()
        lr = self.optimizer.current_lr()
        self.optimizer.end_epoch(self.epoch)
        self.epoch += 1
        train_loss, train_acc = loss_sum / max(count, 1), correct / max(count, 1)
        best = self.history["best_val_acc"]
        self.history["best_val_acc"] = val_acc if best is None else max(best, val_acc)
        self.history["last"] = {"train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss, "val_acc": val_acc}
        self.bus.emit(EpochMetrics(epoch=self.epoch, epochs=self.cfg.epochs, train_loss=train_loss, train_acc=train_acc,
                                   val_loss=val_loss, val_acc=val_acc, lr=lr, seconds=time.time() - started))
        self.emit_architecture()
        self.save_checkpoint()
        return True

    @torch.no_grad()
    def validate(self) -> tuple[float, float]:
        """Loss and accuracy of the supernet on the whole validation split."""
        self.model.eval()
        weights = self.optimizer.forward_weights()
        loss_sum, correct, count = 0.0, 0, 0
        for x, y in self.data.val_batches():
            logits = self.model(x, weights)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(1) == y).sum())
            count += int(y.numel())
        self.model.train()
        return loss_sum / max(count, 1), correct / max(count, 1)

    def distribution_payload(self) -> dict[str, Any]:
        probs = self.optimizer.distribution()
        return {ct: {"edges": self.space.edge_labels(ct), "ops": list(self.space.ops), "weights": tensor_rows(p)}
                for ct, p in probs.items()}

    def emit_architecture(self) -> None:
        self.bus.emit(ArchDistribution(epoch=self.epoch, kind=self.optimizer.distribution_kind,
                                       cells=self.distribution_payload()))
        self.bus.emit(GenotypeDerived(epoch=self.epoch, genotype=self.optimizer.derive()))

    # ---- the end --------------------------------------------------------------------
    def derived_size(self, genotype: Any) -> dict[str, int]:
        """Parameters and multiply-accumulates of the derived architecture's stand-alone network
        at the search's size (a retraining at another size scales them)."""
        from nascore.evaluation.measure import count_flops, count_params

        spec = self.data.spec
        net = self.space.build_network(genotype, self.channels, self.layers, spec.in_channels, spec.num_classes)
        return {"params": count_params(net),
                "flops": count_flops(net, (spec.in_channels, spec.image_size, spec.image_size))}

    def result(self, status: str) -> dict[str, Any]:
        probs = self.optimizer.distribution()
        genotype = self.optimizer.derive()
        size = self.derived_size(genotype)
        return {
            "status": status,
            "space": self.space.name,
            "optimizer": self.cfg.optimizer,
            "order": self.cfg.order,
            "dataset": self.cfg.dataset,
            "ops": list(self.space.ops),
            "edges": {ct: self.space.edge_labels(ct) for ct in self.space.cell_types},
            "alphas": {ct: tensor_rows(p) for ct, p in probs.items()},
            "genotype": genotype,
            "genotype_params": size["params"],
            "flops": size["flops"],
            "metrics": {**self.history["last"], "best_val_acc": self.history["best_val_acc"]},
            "epochs_completed": self.epoch,
            "channels": self.channels,
            "layers": self.layers,
            "params": sum(p.numel() for p in self.model.parameters()),  # the supernet's
            "arch_params": self.space.num_arch_params(),
            "config": self.cfg.to_dict(),
            "seed": self.cfg.seed,
            "device": str(self.device),
            "versions": package_versions(),
        }

    def finish(self, status: str) -> RunOutcome:
        result = self.result(status)
        if status == "cancelled":
            self.bus.emit(LogMessage(level="warning", message=f"cancelled during epoch {self.epoch + 1}"))
        tmp = self.out / (RESULT + ".tmp")
        tmp.write_text(json.dumps(result, indent=2), encoding="utf-8")
        tmp.replace(self.out / RESULT)
        self.bus.emit(RunFinished(status=status, epoch=self.epoch, result=result))
        return RunOutcome(status=status, result=result, out_dir=self.out)


def run_search(config: dict[str, Any] | SearchConfig, out_dir: str | Path,
               sinks: Iterable[Callable[[int, dict], None]] = (), stop_check: Callable[[], bool] | None = None,
               resume: bool = True, progress: ProgressCallback | None = None) -> RunOutcome:
    """Run (or resume) a search; see the module docstring.  Raises ConfigError before writing anything."""
    return SearchRun(config, out_dir, list(sinks), stop_check, progress).run(resume=resume)
