"""What a search remembers between epochs, typed: metrics, the per-epoch architectures, the curvature trajectory,
the early stop and the regularization changes.

A checkpoint stores it as the plain dict it has always been (:meth:`SearchHistory.to_dict`), so checkpoints
written before these classes, and DARTS-ADA's snapshots, load with :meth:`SearchHistory.from_dict`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class EpochRecord:
    """The architecture at the end of an epoch (epoch 0: before the first), with that epoch's metrics."""

    genotype: Any
    metrics: dict[str, float]
    alphas: dict[str, list[list[float]]]


@dataclass
class CurvaturePoint:
    """One dominant-eigenvalue measurement; ``round`` counts DARTS-ADA's weight-decay increases before it."""

    epoch: int
    eigenvalue: float | None
    trace: float | None
    round: int


@dataclass
class Regularization:
    """DARTS-ADA's weight decay now, its increases so far, and where the current trajectory starts."""

    weight_decay: float
    increases: int = 0
    changes: list[dict[str, Any]] = field(default_factory=list)
    #: the latest roll-back's restored epoch: the points after it were measured under the current weight decay
    window_start: int = 0


@dataclass
class SearchHistory:
    best_val_acc: float | None = None
    #: the last epoch's train and validation loss and accuracy
    last: dict[str, float] = field(default_factory=dict)
    archive: dict[int, EpochRecord] = field(default_factory=dict)
    curvature: list[CurvaturePoint] = field(default_factory=list)
    #: DARTS-ADA: the points of the epochs it rolled back
    discarded: list[CurvaturePoint] = field(default_factory=list)
    #: DARTS-ES's stop (trigger and returned epoch, ratio, reason), once it stopped
    early_stop: dict[str, Any] | None = None
    regularization: Regularization = field(default_factory=lambda: Regularization(weight_decay=0.0))

    def record_epoch(self, epoch: int, genotype: Any, alphas: dict[str, list[list[float]]]) -> None:
        self.archive[epoch] = EpochRecord(genotype=genotype, metrics=dict(self.last), alphas=alphas)

    def record_metrics(self, metrics: dict[str, float]) -> None:
        self.last = dict(metrics)
        best = self.best_val_acc
        self.best_val_acc = metrics["val_acc"] if best is None else max(best, metrics["val_acc"])

    def current_points(self, keep_before_rollback: bool = True) -> list[CurvaturePoint]:
        """The curvature points DARTS-ES/ADA's next decision reads.  ``self.curvature`` is the trajectory up to the
        latest roll-back's restored epoch (the snapshot's) followed by the points measured since; the points of the
        epochs rolled back are in ``discarded``.  ``keep_before_rollback`` (DARTS-ADA's ``ada_keep_points``, the
        authors' code): all of it; else only the points measured after the latest roll-back."""
        if keep_before_rollback:
            return list(self.curvature)
        return [p for p in self.curvature if p.epoch > self.regularization.window_start]

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint's form (plain containers)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], weight_decay: float) -> "SearchHistory":
        """Read a checkpoint's history; keys it lacks (an older checkpoint) take their defaults."""
        reg = data.get("regularization") or {"weight_decay": weight_decay}
        return cls(best_val_acc=data.get("best_val_acc"), last=dict(data.get("last") or {}),
                   archive={int(e): EpochRecord(**r) for e, r in (data.get("archive") or {}).items()},
                   curvature=[CurvaturePoint(**p) for p in data.get("curvature") or []],
                   discarded=[CurvaturePoint(**p) for p in data.get("discarded") or []],
                   early_stop=data.get("early_stop"), regularization=Regularization(**reg))
