"""The search loop: epochs of optimizer steps, events, checkpoints, cancellation, resume.

``run_search`` is the one door through which the CLI and the dashboard start a search:
a config, an output folder, any number of event sinks and a stop check called every step.
"""
from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch
from torch.nn import functional as F

from nascore import checkpoint as ckpt
from nascore import run_folder
from nascore.config import SearchConfig, effective_select_samples, validate_config
from nascore.curvature import compute_curvature, fixed_subset
from nascore.data import search_loaders
from nascore.device import resolve_device
from nascore.early_stopping import collapse_counts, should_stop
from nascore.events import (ArchDistribution, Curvature, EarlyStop, EpochMetrics, GenotypeDerived, LogMessage,
                            RegularizationChange, RunStarted, StepMetrics)
from nascore.networks.layout import use_channels_last
from nascore.optimizers import get_optimizer
from nascore.optimizers.base import SearchOptimizer
# the output folder's names and the run's outcome are shared with the table search; imported here by callers
from nascore.run_folder import CHECKPOINT, EVENTS, RESULT, RunOutcome, SearchFailed, check_resumable  # noqa: F401
from nascore.selection import SelectionOutcome, select_final_architecture
from nascore.spaces import get_space
from nascore.versions import package_versions

SNAPSHOTS = "snapshots"  # DARTS-ADA: the states of recent curvature points it may roll back to
STOPPED_EARLY = "stopped_early"
#: Lanczos stops when the residual of its largest Ritz value is below this fraction of it (eigenvalue
#: error well under 0.1%), or after CURVATURE_MAX_ITER Hessian-vector products
CURVATURE_TOL = 1e-3
CURVATURE_MAX_ITER = 30

ProgressCallback = Callable[[int, int, int, float], None]  # epoch, step, steps_per_epoch, loss


def _curvature_seed(seed: int, epoch: int) -> int:
    """The seed of the curvature point at ``epoch``: independent of the global RNG, the same on a resume."""
    digest = hashlib.sha256(f"nascore.curvature:{int(seed)}:{int(epoch)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**62 - 1)


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
        if self.cfg.channels_last:
            use_channels_last(self.model)
        self.optimizer.setup(self.model, self.device)
        # curvature where the method has continuous architecture parameters (config checks early_stop needs them)
        self.curvature_on = (self.cfg.curvature_every > 0 and bool(self.optimizer.arch_parameters())
                             and self.optimizer.relaxed())
        self._curvature_batches: list[tuple[torch.Tensor, torch.Tensor]] | None = None
        self.bus = run_folder.event_bus(self.out, sinks)
        self.epoch = 0
        self.history: dict[str, Any] = self.fresh_history()
        self.started = time.time()
        self.selection: SelectionOutcome | None = None  # the selection stage's, once it ran (nascore.selection)

    def fresh_history(self) -> dict[str, Any]:
        """What a checkpoint carries besides the states: metrics, the curvature trajectory, the per-epoch
        architectures (early stopping returns an earlier one), the early stop and the regularization changes."""
        return {"best_val_acc": None, "last": {},
                "curvature": [],  # points of the current trajectory: {epoch, eigenvalue, trace, round}
                "discarded": [],  # DARTS-ADA: points of epochs it rolled back
                "archive": {},  # epoch -> {"genotype", "alphas"}
                "early_stop": None,
                "regularization": {"weight_decay": self.optimizer.weight_decay(), "increases": 0, "changes": [],
                                   "window_start": 0}}

    # ---- checkpoints ----------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        state = run_folder.checkpoint_state(self.bus, self.epoch, self.cfg, model=self.model.state_dict(),
                                            optimizer=self.optimizer.state_dict(), data=self.data.state_dict(),
                                            rng=ckpt.rng_state(), history=self.history)
        if self.wants_snapshot():
            self.snapshot_path(self.epoch).parent.mkdir(exist_ok=True)
            ckpt.save_atomic(state, self.snapshot_path(self.epoch))  # before the checkpoint that may need it
            self.prune_snapshots()
        return run_folder.save_checkpoint(self.out, self.bus, state)

    def try_resume(self) -> bool:
        state = run_folder.load_checkpoint(self.out, map_location=self.device)
        if state is None:
            return False
        check_resumable(state["config"], self.cfg, self.out)
        self.restore(state)
        self.history = {**self.fresh_history(), **state["history"]}
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
        if self.cfg.curvature_every and not self.curvature_on:
            self.bus.emit(LogMessage(level="info", message=f"no curvature points: the {self.cfg.optimizer} optimizer "
                                                           "has no continuous architecture parameters"))
        with run_folder.reporting_failures(self.bus, lambda: self.epoch):
            if not resumed:
                self.emit_architecture()
            while self.epoch < self.cfg.epochs and not self.history["early_stop"]:
                if not self.train_epoch():
                    return self.finish("cancelled")
            if not self.choose_final():
                return self.finish("cancelled")
        return self.finish(STOPPED_EARLY if self.history["early_stop"] else "finished")

    def train_epoch(self) -> bool:
        """One epoch; False if the stop check asked to stop."""
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
        if not self.curvature_point():  # a DARTS-ADA rollback saves its own checkpoint
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
        genotype = self.optimizer.derive()
        self.history["archive"][self.epoch] = {"genotype": genotype, "metrics": dict(self.history["last"]),
                                               "alphas": {ct: tensor_rows(p) for ct, p in self.optimizer.distribution().items()}}
        self.bus.emit(GenotypeDerived(epoch=self.epoch, genotype=genotype, **_collapse_or_none(genotype)))

    # ---- curvature, DARTS-ES, DARTS-ADA ---------------------------------------------
    def curvature_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The fixed validation subset: the first ``curvature_samples`` examples in the split's fixed order."""
        if self._curvature_batches is None:
            self._curvature_batches = fixed_subset(self.data.val_batches(), self.cfg.curvature_samples,
                                                   self.cfg.batch_size)
        return self._curvature_batches

    def curvature_point(self) -> bool:
        """Measure the curvature if this epoch is a curvature point, then let DARTS-ES / -ADA act on it.

        Returns True when DARTS-ADA rolled the run back (and saved the checkpoint of the restored state).
        """
        if not self.curvature_on or self.epoch % self.cfg.curvature_every:
            return False
        res = compute_curvature(self.optimizer, self.curvature_batches(), seed=_curvature_seed(self.cfg.seed, self.epoch),
                                tol=CURVATURE_TOL, max_iter=CURVATURE_MAX_ITER,
                                trace_samples=self.cfg.curvature_trace_samples)
        reg = self.history["regularization"]
        finite = lambda v: v if v is not None and math.isfinite(v) else None  # noqa: E731  (JSON has no NaN)
        eigenvalue, trace = finite(res.eigenvalue), finite(res.trace)
        self.history["curvature"].append({"epoch": self.epoch, "eigenvalue": eigenvalue, "trace": trace,
                                          "round": reg["increases"]})
        self.bus.emit(Curvature(epoch=self.epoch, eigenvalue=eigenvalue, trace=trace, round=reg["increases"],
                                method=res.method, iterations=res.iterations, hvps=res.hvps, converged=res.converged,
                                samples=res.samples, seconds=res.seconds))
        mode = self.cfg.early_stop
        if mode == "none" or (mode == "ada" and reg["increases"] >= self.cfg.ada_max_increases):
            return False
        points = [p for p in self.history["curvature"] if p["epoch"] > reg["window_start"]]
        decision = should_stop([p["eigenvalue"] for p in points], self.cfg.early_stop_window,
                               self.cfg.early_stop_threshold, epochs=[p["epoch"] for p in points])
        if not decision.stop:
            return False
        back = points[decision.return_index]["epoch"]
        if mode == "es":
            self.stop_early(decision, back)
            return False
        self.roll_back(decision, back)
        return True

    def stop_early(self, decision: Any, back: int) -> None:
        info = {"trigger_epoch": self.epoch, "returned_epoch": back, "earlier": decision.earlier,
                "later": decision.later, "ratio": decision.ratio, "window": self.cfg.early_stop_window,
                "threshold": self.cfg.early_stop_threshold,
                "reason": (f"DARTS-ES stopped the search after epoch {self.epoch} of {self.cfg.epochs} and returns the "
                           f"architecture of epoch {back}, {_points(self.cfg.early_stop_window)} before: "
                           f"{decision.reason}.")}
        self.history["early_stop"] = info
        self.bus.emit(EarlyStop(**info, genotype=self.history["archive"][back]["genotype"]))

    def wants_snapshot(self) -> bool:
        """DARTS-ADA keeps the state of each recent curvature point, to roll back to."""
        reg = self.history["regularization"]
        points = self.history["curvature"]
        return (self.cfg.early_stop == "ada" and self.curvature_on and reg["increases"] < self.cfg.ada_max_increases
                and bool(points) and points[-1]["epoch"] == self.epoch and self.epoch > reg["window_start"])

    def snapshot_path(self, epoch: int) -> Path:
        return self.out / SNAPSHOTS / f"epoch-{epoch:05d}.pt"

    def prune_snapshots(self) -> None:
        """Keep the snapshots of the last k+1 points of the current trajectory: the oldest one a trigger can return to."""
        folder = self.out / SNAPSHOTS
        if not folder.exists():
            return
        start = self.history["regularization"]["window_start"]
        points = [p["epoch"] for p in self.history["curvature"] if p["epoch"] > start]
        keep = {self.snapshot_path(e).name for e in points[-(self.cfg.early_stop_window + 1):]}
        for path in folder.glob("epoch-*.pt"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def roll_back(self, decision: Any, back: int) -> None:
        """DARTS-ADA: restore the state of epoch ``back``, multiply the weight decay, go on from there."""
        path = self.snapshot_path(back)
        if not path.exists():
            raise SearchFailed(f"DARTS-ADA cannot roll back to epoch {back}: its snapshot {path} is missing")
        state = ckpt.load(path, map_location=self.device)
        reg = self.history["regularization"]
        old = self.optimizer.weight_decay()
        new = old * self.cfg.ada_factor
        increase = reg["increases"] + 1
        change = {"trigger_epoch": self.epoch, "restored_epoch": back, "parameter": "weight_decay", "old": old,
                  "new": new, "increase": increase, "max_increases": self.cfg.ada_max_increases,
                  "earlier": decision.earlier, "later": decision.later, "ratio": decision.ratio,
                  "reason": (f"DARTS-ADA went back from epoch {self.epoch} to epoch {back} "
                             f"({_points(self.cfg.early_stop_window)} before) and multiplied the weight decay by "
                             f"{self.cfg.ada_factor:g}, from {old:.4g} to {new:.4g} (increase {increase} of at most "
                             f"{self.cfg.ada_max_increases}): {decision.reason}.")}
        discarded = self.history["discarded"] + [p for p in self.history["curvature"] if p["epoch"] > back]
        self.restore(state)
        self.optimizer.set_weight_decay(new)
        self.history = {**self.fresh_history(), **state["history"], "discarded": discarded,
                        "regularization": {"weight_decay": new, "increases": increase,
                                           "changes": reg["changes"] + [change], "window_start": back}}
        self.bus.emit(RegularizationChange(**change))
        self.emit_architecture()  # the restored architecture
        self.save_checkpoint()
        self.prune_snapshots()

    def robust_darts_result(self, result: dict[str, Any]) -> None:
        """Add the curvature trajectory, the early stop and the regularization changes to ``result``; after
        an early stop, the returned architecture replaces the last one (kept as ``last_genotype``)."""
        last = result["genotype"]
        result["curvature"] = self.history["curvature"]
        result["curvature_discarded"] = self.history["discarded"]
        result["early_stop"] = self.history["early_stop"]
        result["regularization"] = self.history["regularization"]
        stop = self.history["early_stop"]
        if stop:
            kept = self.history["archive"][stop["returned_epoch"]]
            size = self.derived_size(kept["genotype"])
            result.update({"last_genotype": last, "last_alphas": result["alphas"], "genotype": kept["genotype"],
                           "alphas": kept["alphas"], "returned_epoch": stop["returned_epoch"],
                           "returned_metrics": kept["metrics"],
                           "genotype_params": size["params"], "flops": size["flops"]})
        result["collapse"] = {"genotype": _collapse_or_none(result["genotype"]), "last_genotype": _collapse_or_none(last)}

    # ---- the end --------------------------------------------------------------------
    def derived_size(self, genotype: Any) -> dict[str, int]:
        """Parameters and multiply-accumulates of the derived architecture's stand-alone network
        at the search's size (a retraining at another size scales them)."""
        from nascore.evaluation.measure import count_flops, count_params

        spec = self.data.spec
        net = self.space.build_network(genotype, self.channels, self.layers, spec.in_channels, spec.num_classes)
        return {"params": count_params(net),
                "flops": count_flops(net, (spec.in_channels, spec.image_size, spec.image_size))}

    # ---- choosing the final architecture (nascore.selection) ---------------------------
    def choose_final(self) -> bool:
        """After the search, the selection stage when the config has it (``select_samples``, or the method's
        default); False when the stop check ended it.  It starts from the final checkpoint's state and is
        deterministic, so a run resumed during it redoes it to the same end."""
        if not effective_select_samples(self.cfg):
            return True
        stop = self.history["early_stop"]
        if stop:  # DARTS-ES: the returned epoch's architecture and distribution
            kept = self.history["archive"][stop["returned_epoch"]]
            derived, probs = kept["genotype"], {ct: torch.tensor(rows) for ct, rows in kept["alphas"].items()}
        else:
            derived, probs = self.optimizer.derive(), self.optimizer.distribution()
        self.selection = select_final_architecture(
            self.space, self.optimizer, self.model, self.data, self.cfg, channels=self.channels, layers=self.layers,
            steps=self.steps_per_epoch, device=self.device, derived=derived, probs=probs, emit=self.bus.emit,
            stop_check=self.stop_check)
        return self.selection.status == "finished"

    def selection_result(self, result: dict[str, Any]) -> None:
        """Add the selection stage's block to ``result``; when it finished, its choice becomes the genotype (the
        search's own stays as ``search_genotype``) with its size and collapse counts."""
        if self.selection is None:
            return
        result["selection"] = self.selection.block
        if self.selection.status != "finished":
            return
        chosen = self.selection.genotype
        size = self.derived_size(chosen)
        result.update({"search_genotype": result["genotype"], "genotype": chosen, "genotype_params": size["params"],
                       "flops": size["flops"]})
        result["collapse"] = {**result.get("collapse", {}), "genotype": _collapse_or_none(chosen)}

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
        self.robust_darts_result(result)
        self.selection_result(result)
        if status == "cancelled":
            where = ("while choosing the final architecture" if self.selection is not None
                     else f"during epoch {self.epoch + 1}")
            self.bus.emit(LogMessage(level="warning", message=f"cancelled {where}"))
        return run_folder.finish_run(self.out, self.bus, status, self.epoch, result)


def _points(k: int) -> str:
    return "1 curvature point" if k == 1 else f"{k} curvature points"


def _collapse_or_none(genotype: Any) -> dict[str, Any]:
    """Skip-connection and parameter-free-op counts per cell, or None for a genotype format we cannot read."""
    try:
        return collapse_counts(genotype)
    except TypeError:
        return {"skip_connections": None, "parameter_free": None}


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
