"""RobustDARTS's curvature points: the dominant Hessian eigenvalue (and trace) every ``curvature_every`` epochs.

The computation is :mod:`nascore.curvature`'s; this stage decides when it runs, on which fixed validation
subset, with which seed, and records the trajectory in the run's history and in ``curvature`` events.
"""
from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any

import torch

from nascore.curvature import compute_curvature, fixed_subset
from nascore.early_stopping import should_stop
from nascore.events import Curvature, LogMessage
from nascore.optimizers.base import SearchOptimizer
from nascore.search_history import CurvaturePoint
from nascore.stages.base import SearchStage, Verdict

if TYPE_CHECKING:
    from nascore.runner import SearchRun

#: Lanczos stops when the residual of its largest Ritz value is below this fraction of it (eigenvalue
#: error well under 0.1%), or after CURVATURE_MAX_ITER Hessian-vector products
CURVATURE_TOL = 1e-3
CURVATURE_MAX_ITER = 30


def curvature_seed(seed: int, epoch: int) -> int:
    """The seed of the curvature point at ``epoch``: independent of the global RNG, the same on a resume."""
    digest = hashlib.sha256(f"nascore.curvature:{int(seed)}:{int(epoch)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**62 - 1)


def measurable(optimizer: SearchOptimizer) -> bool:
    """Whether the method has continuous architecture parameters to measure curvature on."""
    return bool(optimizer.arch_parameters()) and optimizer.relaxed()


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None  # JSON has no NaN


class CurvatureStage(SearchStage):
    def __init__(self) -> None:
        self._batches: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    @staticmethod
    def on(run: "SearchRun") -> bool:
        return run.cfg.curvature_every > 0 and measurable(run.optimizer)

    def start(self, run: "SearchRun") -> None:
        if run.cfg.curvature_every and not self.on(run):
            run.bus.emit(LogMessage(level="info", message=f"no curvature points: the {run.cfg.optimizer} optimizer "
                                                          "has no continuous architecture parameters"))

    def batches(self, run: "SearchRun") -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The fixed validation subset: the first ``curvature_samples`` examples in the split's fixed order."""
        if self._batches is None:
            self._batches = fixed_subset(run.data.val_batches(), run.cfg.curvature_samples, run.cfg.batch_size)
        return self._batches

    def after_epoch(self, run: "SearchRun") -> Verdict:
        if not self.on(run) or run.epoch % run.cfg.curvature_every:
            return Verdict.GO_ON
        res = compute_curvature(run.optimizer, self.batches(run), seed=curvature_seed(run.cfg.seed, run.epoch),
                                tol=CURVATURE_TOL, max_iter=CURVATURE_MAX_ITER,
                                trace_samples=run.cfg.curvature_trace_samples)
        point = CurvaturePoint(epoch=run.epoch, eigenvalue=_finite(res.eigenvalue), trace=_finite(res.trace),
                               round=run.history.regularization.increases)
        run.history.curvature.append(point)
        points = run.history.current_points(run.cfg.ada_keep_points or run.cfg.early_stop != "ada")
        criterion = should_stop([p.eigenvalue for p in points], run.cfg.early_stop_window,
                                run.cfg.early_stop_threshold)
        run.bus.emit(Curvature(epoch=point.epoch, eigenvalue=point.eigenvalue, trace=point.trace, round=point.round,
                               method=res.method, iterations=res.iterations, hvps=res.hvps, converged=res.converged,
                               samples=res.samples, seconds=res.seconds, earlier=_finite(criterion.earlier),
                               later=_finite(criterion.later), ratio=_finite(criterion.ratio),
                               window=run.cfg.early_stop_window, threshold=run.cfg.early_stop_threshold))
        return Verdict.GO_ON

    def add_to_result(self, run: "SearchRun", result: dict[str, Any]) -> None:
        history = run.history.to_dict()
        result["curvature"] = history["curvature"]
        result["curvature_discarded"] = history["discarded"]
