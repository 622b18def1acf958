"""Registry of search methods by name: the one-shot methods are presets of components
(:mod:`nascore.optimizers.presets`), the black-box ones classes of their own.  Adding a one-shot method: a preset;
adding a component: a module that registers it (:mod:`nascore.optimizers.components`)."""
from __future__ import annotations

from nascore.optimizers.base import SearchOptimizer
from nascore.optimizers.blackbox import (LocalSearchOptimizer, RandomSearchOptimizer, RegularizedEvolutionOptimizer,
                                        ReinforceSearchOptimizer)
from nascore.optimizers.components.cost import CostPenaltySettings
from nascore.optimizers.components.derivation import DerivationSettings
from nascore.optimizers.components.edge_norm import EdgeNormalizationSettings
from nascore.optimizers.components.edges import PartialChannelSettings
from nascore.optimizers.components.gumbel import GumbelSettings
from nascore.optimizers.components.perturb import PerturbationSettings
from nascore.optimizers.components.registry import KINDS
from nascore.optimizers.components.regularizers import RegularizerSettings
from nascore.optimizers.components.relaxations import RelaxationSettings
from nascore.optimizers.components.schedules import DropPathSettings
from nascore.optimizers.components.update_schedule import UpdateScheduleSettings
from nascore.optimizers.composed import ComposedOptimizer, preset_class
from nascore.optimizers.darts import ArchitectureUpdateSettings
from nascore.optimizers.presets import PRESETS
from nascore.settings import Settings, setting

#: the settings of every component a one-shot method is composed of: any of them may override a preset, so the
#: form shows them for every one-shot method
COMPONENT_SETTINGS: tuple[type[Settings], ...] = (
    RelaxationSettings, ArchitectureUpdateSettings, UpdateScheduleSettings, GumbelSettings, PartialChannelSettings,
    EdgeNormalizationSettings, PerturbationSettings, RegularizerSettings, CostPenaltySettings, DropPathSettings,
    DerivationSettings,
)



def component_settings() -> tuple[type[Settings], ...]:
    """:data:`COMPONENT_SETTINGS`, then the settings of any component registered since (a new component's module
    registers it, and its settings join every one-shot method's)."""
    models = list(COMPONENT_SETTINGS)
    for kind in KINDS.values():
        for component in kind.entries.values():
            models.extend(m for m in component.settings if m not in models)
    return tuple(models)


ONE_SHOT: dict[str, type[ComposedOptimizer]] = {name: preset_class(p, COMPONENT_SETTINGS) for name, p in PRESETS.items()}
DARTSOptimizer = ONE_SHOT["darts"]

OPTIMIZERS: dict[str, type[SearchOptimizer]] = {**ONE_SHOT, **{cls.name: cls for cls in (
    RegularizedEvolutionOptimizer, RandomSearchOptimizer, ReinforceSearchOptimizer, LocalSearchOptimizer,
)}}


class MethodSettings(Settings):
    """Which search method."""

    title = "Method"

    optimizer: str = setting("darts", "The search method (a one-shot preset of components, or black-box).",
                             source="DARTS (Liu et al., ICLR 2019), the method the others build on",
                             choices=lambda: sorted(OPTIMIZERS), basic=True)


def get_optimizer(name: str) -> type[SearchOptimizer]:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise KeyError(f"unknown optimizer {name!r}; known optimizers: {', '.join(sorted(OPTIMIZERS))}") from None
