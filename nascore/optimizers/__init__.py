"""Registry of search methods by name.  Adding one: a module and one entry here."""
from __future__ import annotations

from nascore.optimizers.base import SearchOptimizer
from nascore.optimizers.darts import DARTSOptimizer

OPTIMIZERS: dict[str, type[SearchOptimizer]] = {cls.name: cls for cls in (DARTSOptimizer,)}


def get_optimizer(name: str) -> type[SearchOptimizer]:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        raise KeyError(f"unknown optimizer {name!r}; known optimizers: {', '.join(sorted(OPTIMIZERS))}") from None
