"""When the architecture is updated: warm-up epochs that train only the weights, then an architecture step every
``arch_every`` weight steps.  (Whether the gradient is of first or second order is ``order``, DARTS's setting.)

The presets follow their papers' code: PC-DARTS trains only the weights for the first 15 of 50 epochs
(yuhuixu1993/PC-DARTS ``train_search.py:156``: ``if epoch>=15: architect.step(...)``), the other presets update
the architecture from the first step.  A run no longer than its preset's warm-up never updates the architecture:
it is not refused (a short pcdarts run is a fair smoke test of the weights), but :func:`warmup_warning` says so,
on the command line before the run starts and as a warning event of the run.
"""
from __future__ import annotations

from typing import Any, Mapping

from nascore.optimizers.components.registry import preset_default, registry
from nascore.settings import Settings, setting


class UpdateScheduleSettings(Settings):
    """When the architecture is updated."""

    title = "Update schedule"

    warmup_epochs: int | None = setting(None, "Epochs at the start that train only the weights.", ge=0,
                                        source="the method's preset: PC-DARTS's code warms up 15 of 50 epochs "
                                               "(train_search.py:156), the other papers' code does not",
                                        none_means=preset_default("warmup_epochs"), label="Warm-up epochs")
    arch_every: int | None = setting(None, "One architecture update every N weight steps.", gt=0,
                                     source="NASBoard's choice: 1, DARTS's alternation (section 2.3)",
                                     none_means=preset_default("arch_every"), label="Architecture step every")

    @classmethod
    def checks(cls, config: Mapping[str, Any]) -> dict[str, str]:
        warmup = config["warmup_epochs"]
        if warmup is not None and warmup >= config["epochs"]:
            return {"warmup_epochs": f"warmup_epochs ({warmup}) must be below epochs ({config['epochs']}): no "
                                     "architecture update would happen"}
        return {}


def warmup_warning(config: Mapping[str, Any]) -> str | None:
    """What to tell the user when the method's preset warms up for at least the run's epochs (the architecture is
    then never updated), or None.  An explicit ``warmup_epochs`` that long is refused by the settings' check."""
    from nascore.optimizers.components.relaxations import RELAXATIONS
    from nascore.optimizers.presets import PRESETS, resolve

    preset = PRESETS.get(config.get("optimizer", ""))
    if preset is None or config.get("warmup_epochs") is not None:
        return None
    recipe = resolve(preset, config)
    relaxation = RELAXATIONS[recipe.relaxation].impl
    learns = relaxation.has_alphas or (not relaxation.gradient and relaxation.learns_distribution)
    epochs = int(config["epochs"])
    if not learns or recipe.warmup_epochs < epochs:
        return None
    return (f"the {preset.name} preset trains only the weights for its first {recipe.warmup_epochs} epochs, as its "
            f"paper's code does, and this run has {epochs}: the architecture will never be updated and is read "
            f"from its random, near-uniform initial parameters. Run more than {recipe.warmup_epochs} epochs, or set warmup_epochs below "
            f"{epochs} (e.g. 0) for a short run.")


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
