"""Settings every kind of run shares (seed, device, step caps and logging) and the search loop's own.

They live apart from :mod:`nascore.runner` because the stand-alone training (:mod:`nascore.evaluation.train`)
and the table search use them too, and because the config that composes them is imported by the runner.
"""
from __future__ import annotations

from typing import Any, Mapping

from nascore.device import DEVICE_CHOICES
from nascore.settings import Settings, setting


class RuntimeSettings(Settings):
    """Where a run happens and how it reports: seed, device, step caps, step events."""

    title = "Run"

    seed: int = setting(0, "Seed of every random number the run draws (weights, data order, samples).", ge=0,
                        source="NASBoard's choice", basic=True)
    device: str = setting("auto", "Where the run computes: auto (CUDA when present), cpu, cuda or cuda:N.",
                          choices=DEVICE_CHOICES, pattern=r"cuda:\d+", pattern_text="cuda:N", source="NASBoard's choice", basic=True)
    steps_per_epoch: int | None = setting(None, "A cap on the steps of each epoch, for quick runs.", gt=0,
                                          none_means="the whole split", source="NASBoard's choice", label='Steps per epoch')
    step_log_every: int = setting(10, "A step event (loss, accuracy) every N steps and at the first, for live "
                                      "progress.", gt=0, source="NASBoard's choice", label='Step event every N steps')


class SearchLoopSettings(Settings):
    """How long a search runs, on what batches, in which memory layout."""

    title = "Search"

    epochs: int = setting(10, "Epochs of the search.", gt=0, basic=True,
                          source="NASBoard's choice (DARTS searches 50 epochs on CIFAR-10; 10 suit the digits)")
    batch_size: int = setting(64, "Examples per batch, for the train and the validation split alike.", gt=0,
                              basic=True, source="DARTS (Liu et al., ICLR 2019), section A.1: 64")
    channels_last: bool = setting(True, "NHWC memory layout: much faster convolutions on CPU; the results do "
                                        "not change.", source="NASBoard's choice (bench: nascore bench --compare)", label='Channels-last layout')


def device_errors(config: Mapping[str, Any]) -> dict[str, str]:
    """Whether this machine has the config's device (a web server skips this: GPU workers run CUDA jobs)."""
    from nascore.device import resolve_device

    try:
        resolve_device(config["device"])
    except ValueError as exc:
        return {"device": str(exc)}
    return {}
