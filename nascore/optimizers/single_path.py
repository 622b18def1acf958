"""What every method that runs one op per edge shares (weight sharing, SPOS, ENAS, black-box search):
a seeded generator of its own, single-path edges, the op masks and a count of what was sampled."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from nascore.networks.edges import EdgeFactory
from nascore.networks.sampled import single_path_factory
from nascore.optimizers.base import SearchOptimizer
from nascore.optimizers.components.sampling import FrequencyCounter, generator_for
from nascore.spaces.base import SearchSpace

if TYPE_CHECKING:
    from nascore.config import SearchConfig


class SinglePathOptimizer(SearchOptimizer):
    """Base of the single-path methods; subclasses extend :meth:`setup` with their own state."""

    def __init__(self, space: SearchSpace, config: SearchConfig):
        super().__init__(space, config)
        self.generator = generator_for(config.seed, self.name)

    def edge_factory(self) -> EdgeFactory:
        return single_path_factory(self.space.ops, self.space.pool_bn)

    def setup(self, model: nn.Module, device: torch.device) -> None:
        self.model = model
        self.device = device
        self.masks = {ct: self.space.op_mask(ct).to(device) for ct in self.space.cell_types}
        #: how often each op was sampled on each edge: the heatmap of these methods
        self.counter = FrequencyCounter(self.masks)
