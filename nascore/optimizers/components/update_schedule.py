"""When the architecture is updated: warm-up epochs that train only the weights, then an architecture step every
``arch_every`` weight steps.  (Whether the gradient is of first or second order is ``order``, DARTS's setting.)

PC-DARTS's code trains only the weights for the first 15 of 50 epochs (``train_search.py``: ``if epoch >= 15``)
and DrNAS's too; the presets keep the behaviour NASBoard had (no warm-up), which ``warmup_epochs`` changes.
"""
from __future__ import annotations

from typing import Any, Mapping

from nascore.optimizers.components.registry import registry
from nascore.settings import Settings, setting


class UpdateScheduleSettings(Settings):
    """When the architecture is updated."""

    title = "Update schedule"

    warmup_epochs: int | None = setting(None, "Epochs at the start that train only the weights.", ge=0,
                                        source="NASBoard's choice: none (PC-DARTS's code warms up 15 of 50 epochs)",
                                        none_means="the preset's: 0 for every method", label="Warm-up epochs")
    arch_every: int | None = setting(None, "One architecture update every N weight steps.", gt=0,
                                     source="NASBoard's choice: 1, DARTS's alternation (section 2.3)",
                                     none_means="the preset's: 1 for every method", label="Architecture step every")

    @classmethod
    def checks(cls, config: Mapping[str, Any]) -> dict[str, str]:
        warmup = config["warmup_epochs"]
        if warmup is not None and warmup >= config["epochs"]:
            return {"warmup_epochs": f"warmup_epochs ({warmup}) must be below epochs ({config['epochs']}): no "
                                     "architecture update would happen"}
        return {}


def arch_update_due(epoch: int, step: int, warmup_epochs: int, every: int) -> bool:
    """Whether the step numbered ``step`` (from 0) of epoch ``epoch`` (from 0) updates the architecture."""
    return epoch >= warmup_epochs and step % every == 0

def _architecture_update() -> type:
    from nascore.optimizers.darts import ArchitectureUpdateSettings  # the Adam of the alphas, and ``order``

    return ArchitectureUpdateSettings


_SETTINGS = (UpdateScheduleSettings, _architecture_update())
UPDATE_SCHEDULES = registry("update_schedule", "Update schedule", "order",
                            "First or second order architecture gradient, warm-up epochs, an architecture step every "
                            "N weight steps.")
UPDATE_SCHEDULES.add("1", 1, "first-order gradient of the validation loss",
                     "DARTS (Liu et al., ICLR 2019), section 2.3 (first order)", settings=_SETTINGS)
UPDATE_SCHEDULES.add("2", 2, "unrolled second-order gradient (deterministic relaxations only)",
                     "DARTS (Liu et al., ICLR 2019), section 2.3, eq. 7-8", settings=_SETTINGS)
