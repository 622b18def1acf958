"""Per-epoch schedules shared by methods (drop-path rates, perturbation radii)."""
from __future__ import annotations

from nascore.settings import Settings, setting

DROP_PATH_SCHEDULES = ("constant", "linear")


class DropPathSettings(Settings):
    """Drop-path on the one-shot model's ops (Bender et al., ICML 2018)."""

    title = "Drop-path (one-shot)"

    drop_path: float = setting(0.0, "Probability of dropping each op's output per example.", ge=0, lt=1,
                               source="NASBoard's choice: off (Bender et al., ICML 2018, tune it per space)", label='Drop-path probability')
    drop_path_schedule: str = setting("constant", "constant (DropPath) or linear (ScheduledDropPath: 0 up to "
                                                  "drop_path over the epochs).", choices=DROP_PATH_SCHEDULES,
                                      source="Bender et al., ICML 2018, section 3.1: constant", label='Drop-path schedule')


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
