"""Registry of search methods by name.  Adding one: a module and one entry here."""
from __future__ import annotations

from nascore.optimizers.base import SearchOptimizer
from nascore.optimizers.blackbox import (LocalSearchOptimizer, RandomSearchOptimizer, RegularizedEvolutionOptimizer,
                                        ReinforceSearchOptimizer)
from nascore.optimizers.darts import DARTSOptimizer
from nascore.optimizers.drnas import DrNASOptimizer
from nascore.optimizers.enas import ENASOptimizer
from nascore.optimizers.gdas import GDASOptimizer
from nascore.optimizers.oneshot import OneShotOptimizer, RSWSOptimizer, SPOSOptimizer
from nascore.optimizers.pcdarts import PCDARTSOptimizer
from nascore.optimizers.proxyless import ProxylessOptimizer
from nascore.settings import Settings, setting

OPTIMIZERS: dict[str, type[SearchOptimizer]] = {cls.name: cls for cls in (
    DARTSOptimizer, GDASOptimizer, PCDARTSOptimizer, ProxylessOptimizer, DrNASOptimizer,
    OneShotOptimizer, RSWSOptimizer, SPOSOptimizer, ENASOptimizer, RegularizedEvolutionOptimizer, RandomSearchOptimizer,
    ReinforceSearchOptimizer, LocalSearchOptimizer,
)}


class MethodSettings(Settings):
    """Which search method."""

    title = "Method"

    optimizer: str = setting("darts", "The search method (one-shot or black-box).",
                             source="DARTS (Liu et al., ICLR 2019), the method the others build on",
                             choices=lambda: sorted(OPTIMIZERS), basic=True)


def get_optimizer(name: str) -> type[SearchOptimizer]:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise KeyError(f"unknown optimizer {name!r}; known optimizers: {', '.join(sorted(OPTIMIZERS))}") from None
