"""The search loop: epochs of optimizer steps, events, checkpoints, cancellation, resume.

``run_search`` is the one door through which the CLI and the dashboard start a search:
a config, an output folder, any number of event sinks and a stop check called every step.
What happens around the epochs (curvature, early stopping, the final architecture's selection) is in
:mod:`nascore.stages`, called through one interface; what the loop remembers is typed
(:mod:`nascore.search_history`).
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from torch.nn import functional as F

from nascore import checkpoint as ckpt
from nascore import run_folder
from nascore.config import SearchConfig, validate_config
from nascore.data import resolve_augment_of, search_loaders
from nascore.device import resolve_device
from nascore.early_stopping import collapse_or_none
from nascore.events import (ArchDistribution, EpochMetrics, ExpectedCost, GenotypeDerived, LogMessage, RunStarted,
                            StepMetrics)
from nascore.networks.layout import use_channels_last
from nascore.optimizers import get_optimizer
from nascore.optimizers.base import SearchOptimizer
# the output folder's names and the run's outcome are shared with the table search; imported here by callers
from nascore.run_folder import (CHECKPOINT, EVENTS, RESULT, ProgressCallback, RunOutcome,  # noqa: F401
                                SearchFailed, check_resumable, tensor_rows)
from nascore.search_history import Regularization, SearchHistory
from nascore.spaces import get_space
from nascore.stages import SearchStage, Verdict, build_stages
from nascore.stages.early_stop import SNAPSHOTS
from nascore.versions import package_versions

STOPPED_EARLY = "stopped_early"


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
                                   num_workers=self.cfg.num_workers, device=self.device,
                                   augment=resolve_augment_of(self.cfg.dataset, self.cfg.search_augment))
        self.steps_per_epoch = self.data.steps_per_epoch
        if self.cfg.steps_per_epoch:
            self.steps_per_epoch = min(self.steps_per_epoch, self.cfg.steps_per_epoch)
        self.channels = self.cfg.channels or self.space.default_channels
        self.layers = self.cfg.layers or self.space.default_layers
        self.optimizer: SearchOptimizer = get_optimizer(self.cfg.optimizer)(self.space, self.cfg)
        spec = self.data.spec
        self.model = self.space.build_supernet(self.optimizer.edge_factory(), self.channels, self.layers,
                                               spec.in_channels, spec.num_classes).to(self.device)
        if self.cfg.channels_last:
            use_channels_last(self.model)
        self.optimizer.setup(self.model, self.device)
        self.stages: list[SearchStage] = build_stages()
        self.bus = run_folder.event_bus(self.out, sinks)
        self.epoch = 0
        self.stopped = False  # a stage ended the epoch loop (DARTS-ES)
        self.history = self.fresh_history()
        self.started = time.time()

    def fresh_history(self) -> SearchHistory:
        return SearchHistory(regularization=Regularization(weight_decay=self.optimizer.weight_decay()))

    # ---- checkpoints ----------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        state = run_folder.checkpoint_state(self.bus, self.epoch, self.cfg, model=self.model.state_dict(),
                                            optimizer=self.optimizer.state_dict(), data=self.data.state_dict(),
                                            rng=ckpt.rng_state(), history=self.history.to_dict())
        for stage in self.stages:
            stage.before_checkpoint(self, state)
        return run_folder.save_checkpoint(self.out, self.bus, state)

    def try_resume(self) -> bool:
        state = run_folder.load_checkpoint(self.out, map_location=self.device)
        if state is None:
            return False
        check_resumable(state["config"], self.cfg, self.out)
        self.restore(state)
        self.history = SearchHistory.from_dict(state["history"], weight_decay=self.optimizer.weight_decay())
        self.stopped = self.history.early_stop is not None
        self.bus.rewind(state["seq"])
        return True

    def restore(self, state: dict[str, Any]) -> None:
        """Put the search back where ``state`` (a checkpoint or a DARTS-ADA snapshot) was taken: weights,
        optimizer, data order, random generators and the epoch count."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.data.load_state_dict(state["data"])
        ckpt.set_rng_state(state["rng"])
        self.epoch = state["epoch"]

    def clear_outputs(self) -> None:
        run_folder.clear_outputs(self.out, SNAPSHOTS)

    # ---- the loop -------------------------------------------------------------------
    def run(self, resume: bool = True) -> RunOutcome:
        resumed = resume and self.try_resume()
        if not resumed:
            self.clear_outputs()
        self.bus.emit(RunStarted(config=self.cfg.to_dict(), versions=package_versions(), device=str(self.device),
                                 epochs=self.cfg.epochs, steps_per_epoch=self.steps_per_epoch,
                                 start_epoch=self.epoch, resumed=resumed))
        for stage in self.stages:
            stage.start(self)
        prepare_cost = getattr(self.optimizer, "prepare_cost", None)
        if prepare_cost is not None:  # ProxylessNAS's cost table, measured once (a resumed run kept its own)
            spec = self.data.spec
            prepare_cost((spec.in_channels, spec.image_size, spec.image_size))
        with run_folder.reporting_failures(self.bus, lambda: self.epoch):
            if not resumed:
                self.emit_architecture()
            while self.epoch < self.cfg.epochs and not self.stopped:
                if not self.train_epoch():
                    return self.finish("cancelled", during_search=True)
            for stage in self.stages:
                if not stage.after_search(self):
                    return self.finish("cancelled", during_search=False)
        return self.finish(STOPPED_EARLY if self.stopped else "finished")

    def train_epoch(self) -> bool:
        """One epoch, then the stages; False if the stop check asked to stop."""
        started = time.time()
        loss_sum, correct, count = 0.0, 0, 0
        for step, (train, val) in enumerate(self.data.epoch_batches(self.steps_per_epoch), start=1):
            if self.stop_check is not None and self.stop_check():
                return False
            stats = self.optimizer.step(train, val)
            for event in self.optimizer.pop_events():
                self.bus.emit(event)
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
        self.optimizer.epoch_update(self.data.val.next_batch)
        val_loss, val_acc = self.validate()
        lr = self.optimizer.current_lr()
        self.optimizer.end_epoch(self.epoch)
        self.epoch += 1
        train_loss, train_acc = loss_sum / max(count, 1), correct / max(count, 1)
        self.history.record_metrics({"train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
                                     "val_acc": val_acc})
        self.bus.emit(EpochMetrics(epoch=self.epoch, epochs=self.cfg.epochs, train_loss=train_loss, train_acc=train_acc,
                                   val_loss=val_loss, val_acc=val_acc, lr=lr, seconds=time.time() - started))
        self.emit_architecture()
        verdicts = [stage.after_epoch(self) for stage in self.stages]
        self.stopped = Verdict.STOP in verdicts
        if Verdict.ROLLED_BACK not in verdicts:  # a roll-back saved the restored state's checkpoint itself
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
        """Per cell type the heatmap's rows: the distribution's weights, and the raw alphas they are the softmax of
        where the method has them (small alphas give near-uniform weights; the alphas show which ops gain)."""
        probs = self.optimizer.distribution()
        raw = self.optimizer.raw_alphas() or {}
        cells = {ct: {"edges": self.space.edge_labels(ct), "ops": list(self.space.ops), "weights": tensor_rows(p)}
                 for ct, p in probs.items()}
        for ct, alpha in raw.items():
            # a masked-out op has no parameter: null, as JSON has no NaN
            cells[ct]["alphas"] = [[v if math.isfinite(v) else None for v in row] for row in tensor_rows(alpha, 8)]
        return cells

    def emit_architecture(self) -> None:
        self.bus.emit(ArchDistribution(epoch=self.epoch, kind=self.optimizer.distribution_kind,
                                       cells=self.distribution_payload()))
        cost = getattr(self.optimizer, "expected_cost", lambda: None)()
        if cost is not None:
            self.bus.emit(ExpectedCost(epoch=self.epoch, **cost))
        genotype = self.optimizer.derive()
        self.history.record_epoch(self.epoch, genotype,
                                  {ct: tensor_rows(p) for ct, p in self.optimizer.distribution().items()})
        self.bus.emit(GenotypeDerived(epoch=self.epoch, genotype=genotype, **collapse_or_none(genotype)))

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
            "space": self.cfg.space,
            "optimizer": self.cfg.optimizer,
            "order": self.cfg.order,
            "dataset": self.cfg.dataset,
            "ops": list(self.space.ops),
            "edges": {ct: self.space.edge_labels(ct) for ct in self.space.cell_types},
            "alphas": {ct: tensor_rows(p) for ct, p in probs.items()},
            "genotype": genotype,
            "genotype_params": size["params"],
            "flops": size["flops"],
            "metrics": {**self.history.last, "best_val_acc": self.history.best_val_acc},
            "epochs_completed": self.epoch,
            "channels": self.channels,
            "layers": self.layers,
            "params": sum(p.numel() for p in self.model.parameters()),  # the supernet's
            "arch_params": self.space.num_arch_params(),
            "config": self.cfg.to_dict(),
            "seed": self.cfg.seed,
            "device": str(self.device),
            "versions": package_versions(),
            # the last epoch's architecture; a stage may return another one (e.g. an earlier epoch's, DARTS-ES)
            "collapse": {"genotype": collapse_or_none(genotype), "last_genotype": collapse_or_none(genotype)},
        }

    def finish(self, status: str, during_search: bool = True) -> RunOutcome:
        result = self.result(status)
        for stage in self.stages:
            stage.add_to_result(self, result)
        if status == "cancelled":
            where = f"during epoch {self.epoch + 1}" if during_search else "while choosing the final architecture"
            self.bus.emit(LogMessage(level="warning", message=f"cancelled {where}"))
        return run_folder.finish_run(self.out, self.bus, status, self.epoch, result)


def run_search(config: dict[str, Any] | SearchConfig, out_dir: str | Path,
               sinks: Iterable[Callable[[int, dict], None]] = (), stop_check: Callable[[], bool] | None = None,
               resume: bool = True, progress: ProgressCallback | None = None) -> RunOutcome:
    """Run (or resume) a search; see the module docstring.  Raises ConfigError before writing anything.
    The config's evaluator picks the kind of run (:data:`RUN_KINDS`)."""
    cfg = validate_config(config)
    return RUN_KINDS[cfg.evaluator]()(cfg, out_dir, list(sinks), stop_check, progress).run(resume=resume)


def _table_run() -> type:
    from nascore.benchmarks.runner import TableSearchRun

    return TableSearchRun


#: the class that carries out a search, by the config's evaluator (imported when needed): ``train`` runs the
#: epoch loop on data, ``table`` a black-box search on a tabular benchmark (nascore.benchmarks.runner)
RUN_KINDS: dict[str, Callable[[], type]] = {"train": lambda: SearchRun, "table": _table_run}
