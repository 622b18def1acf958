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

OPTIMIZERS: dict[str, type[SearchOptimizer]] = {cls.name: cls for cls in (
    DARTSOptimizer, GDASOptimizer, PCDARTSOptimizer, ProxylessOptimizer, DrNASOptimizer,
    OneShotOptimizer, RSWSOptimizer, SPOSOptimizer, ENASOptimizer, RegularizedEvolutionOptimizer, RandomSearchOptimizer,
    ReinforceSearchOptimizer, LocalSearchOptimizer,
)}


def get_optimizer(name: str) -> type[SearchOptimizer]:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise KeyError(f"unknown optimizer {name!r}; known optimizers: {', '.join(sorted(OPTIMIZERS))}") from None
