"""The relaxations a one-shot method can be composed with, registered by name in :data:`RELAXATIONS` (imported in
the order they are listed)."""
from nascore.optimizers.components.relaxations import softmax  # noqa: F401  (first: DARTS's)
from nascore.optimizers.components.relaxations import gumbel  # noqa: F401
from nascore.optimizers.components.relaxations import dirichlet  # noqa: F401
from nascore.optimizers.components.relaxations import binary_gates  # noqa: F401
from nascore.optimizers.components.relaxations import single_path  # noqa: F401
from nascore.optimizers.components.relaxations import controller  # noqa: F401
from nascore.optimizers.components.relaxations.base import RELAXATIONS, Relaxation, RelaxationSettings

__all__ = ["RELAXATIONS", "Relaxation", "RelaxationSettings"]
