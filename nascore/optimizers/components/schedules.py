"""Per-epoch schedules shared by methods (drop-path rates, perturbation radii)."""
from __future__ import annotations

DROP_PATH_SCHEDULES = ("constant", "linear")


def drop_path_rate(rate: float, schedule: str, epoch: int, epochs: int) -> float:
    """DropPath (``constant``: ``rate`` from the start) or ScheduledDropPath (``linear``: from 0 at the first
    epoch up to ``rate`` at the last, as in Bender et al. 2018 and NASNet)."""
    if schedule == "constant":
        return float(rate)
    if schedule == "linear":
        return float(rate) * (epoch / max(epochs - 1, 1))
    raise ValueError(f"unknown drop-path schedule {schedule!r}; choose one of: {', '.join(DROP_PATH_SCHEDULES)}")


def linear_ramp(start: float, end: float, epoch: int, epochs: int) -> float:
    """``start`` at epoch 0 rising linearly to ``end`` at epoch ``epochs`` (SmoothDARTS's epsilon)."""
    return float(start + (end - start) * min(epoch, epochs) / max(epochs, 1))
