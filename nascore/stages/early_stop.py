"""DARTS-ES and DARTS-ADA (RobustDARTS, Zela et al., ICLR 2020) acting on the curvature trajectory.

After each curvature point the criterion of :func:`nascore.early_stopping.should_stop` is read on the current
trajectory (:meth:`SearchHistory.current_points`).  DARTS-ES stops the loop and the result returns the architecture
of k points before; DARTS-ADA restores the state of k points before (from the snapshot it kept), with the
trajectory recorded up to it, multiplies the weight decay and goes on, up to ``ada_max_increases`` times.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nascore import checkpoint as ckpt
from nascore.early_stopping import StopDecision, collapse_or_none, should_stop
from nascore.events import EarlyStop, RegularizationChange
from nascore.run_folder import SearchFailed
from nascore.search_history import SearchHistory
from nascore.stages.base import SearchStage, Verdict

if TYPE_CHECKING:
    from nascore.runner import SearchRun

SNAPSHOTS = "snapshots"  # DARTS-ADA: the states of recent curvature points it may roll back to


def _points(k: int) -> str:
    return "1 curvature point" if k == 1 else f"{k} curvature points"


def snapshot_path(out: Path, epoch: int) -> Path:
    return out / SNAPSHOTS / f"epoch-{epoch:05d}.pt"


class EarlyStopStage(SearchStage):
    def after_epoch(self, run: "SearchRun") -> Verdict:
        cfg, history = run.cfg, run.history
        reg = history.regularization
        measured = bool(history.curvature) and history.curvature[-1].epoch == run.epoch
        if cfg.early_stop == "none" or not measured or (cfg.early_stop == "ada"
                                                         and reg.increases >= cfg.ada_max_increases):
            return Verdict.GO_ON
        points = history.current_points(cfg.ada_keep_points or cfg.early_stop != "ada")
        decision = should_stop([p.eigenvalue for p in points], cfg.early_stop_window, cfg.early_stop_threshold,
                               epochs=[p.epoch for p in points])
        if not decision.stop:
            return Verdict.GO_ON
        back = points[decision.return_index].epoch
        if cfg.early_stop == "es":
            self.stop(run, decision, back)
            return Verdict.STOP
        self.roll_back(run, decision, back)
        return Verdict.ROLLED_BACK

    # ---- DARTS-ES ---------------------------------------------------------------------------------------
    def stop(self, run: "SearchRun", decision: StopDecision, back: int) -> None:
        cfg = run.cfg
        info = {"trigger_epoch": run.epoch, "returned_epoch": back, "earlier": decision.earlier,
                "later": decision.later, "ratio": decision.ratio, "window": cfg.early_stop_window,
                "threshold": cfg.early_stop_threshold,
                "reason": (f"DARTS-ES stopped the search after epoch {run.epoch} of {cfg.epochs} and returns the "
                           f"architecture of epoch {back}, {_points(cfg.early_stop_window)} before: "
                           f"{decision.reason}.")}
        run.history.early_stop = info
        run.bus.emit(EarlyStop(**info, genotype=run.history.archive[back].genotype))

    # ---- DARTS-ADA --------------------------------------------------------------------------------------
    def wants_snapshot(self, run: "SearchRun") -> bool:
        """DARTS-ADA keeps the state of each recent curvature point, to roll back to."""
        reg, points = run.history.regularization, run.history.curvature
        return (run.cfg.early_stop == "ada" and reg.increases < run.cfg.ada_max_increases
                and bool(points) and points[-1].epoch == run.epoch and run.epoch > reg.window_start)

    def before_checkpoint(self, run: "SearchRun", state: dict[str, Any]) -> None:
        if self.wants_snapshot(run):
            path = snapshot_path(run.out, run.epoch)
            path.parent.mkdir(exist_ok=True)
            ckpt.save_atomic(state, path)  # before the checkpoint that may need it
            self.prune_snapshots(run)

    def prune_snapshots(self, run: "SearchRun") -> None:
        """Keep the snapshots a trigger can return to: those of the last k+1 points of the current trajectory, and,
        when the points before a roll-back count (``ada_keep_points``), of the k before them too (a trigger just
        after a roll-back to a point returns to up to k points before it)."""
        folder = run.out / SNAPSHOTS
        if not folder.exists():
            return
        k = run.cfg.early_stop_window
        epochs = [p.epoch for p in run.history.current_points(run.cfg.ada_keep_points)]
        keep = {snapshot_path(run.out, e).name for e in epochs[-((2 * k if run.cfg.ada_keep_points else k) + 1):]}
        for path in folder.glob("epoch-*.pt"):
            if path.name not in keep:
                path.unlink(missing_ok=True)

    def roll_back(self, run: "SearchRun", decision: StopDecision, back: int) -> None:
        """Restore the state of epoch ``back``, multiply the weight decay, go on from there."""
        cfg = run.cfg
        path = snapshot_path(run.out, back)
        if not path.exists():
            raise SearchFailed(f"DARTS-ADA cannot roll back to epoch {back}: its snapshot {path} is missing")
        state = ckpt.load(path, map_location=run.device)
        reg = run.history.regularization
        old = run.optimizer.weight_decay()
        new = old * cfg.ada_factor
        increase = reg.increases + 1
        change = {"trigger_epoch": run.epoch, "restored_epoch": back, "parameter": "weight_decay", "old": old,
                  "new": new, "increase": increase, "max_increases": cfg.ada_max_increases,
                  "earlier": decision.earlier, "later": decision.later, "ratio": decision.ratio,
                  "reason": (f"DARTS-ADA went back from epoch {run.epoch} to epoch {back} "
                             f"({_points(cfg.early_stop_window)} before) and multiplied the weight decay by "
                             f"{cfg.ada_factor:g}, from {old:.4g} to {new:.4g} (increase {increase} of at most "
                             f"{cfg.ada_max_increases}): {decision.reason}.")}
        discarded = run.history.discarded + [p for p in run.history.curvature if p.epoch > back]
        run.restore(state)
        run.optimizer.set_weight_decay(new)
        restored = SearchHistory.from_dict(state["history"], weight_decay=new)
        restored.discarded = discarded
        restored.regularization.weight_decay = new
        restored.regularization.increases = increase
        restored.regularization.changes = reg.changes + [change]
        restored.regularization.window_start = back
        run.history = restored
        run.bus.emit(RegularizationChange(**change))
        run.emit_architecture()  # the restored architecture
        run.save_checkpoint()
        self.prune_snapshots(run)

    def add_to_result(self, run: "SearchRun", result: dict[str, Any]) -> None:
        """The early stop and the regularization changes; after an early stop, the returned architecture replaces
        the last one (kept as ``last_genotype``)."""
        history = run.history.to_dict()
        result["early_stop"] = history["early_stop"]
        result["regularization"] = history["regularization"]
        stop = run.history.early_stop
        if stop:
            kept = run.history.archive[stop["returned_epoch"]]
            size = run.derived_size(kept.genotype)
            result.update({"last_genotype": result["genotype"], "last_alphas": result["alphas"],
                           "genotype": kept.genotype, "alphas": kept.alphas, "returned_epoch": stop["returned_epoch"],
                           "returned_metrics": kept.metrics, "genotype_params": size["params"],
                           "flops": size["flops"]})
            result["collapse"] = {**result["collapse"], "genotype": collapse_or_none(kept.genotype)}
