"""GDAS (Dong and Yang, CVPR 2019): one op per edge sampled by Gumbel-max, trained with the
straight-through estimator; only the sampled op of each edge is computed.

Each search step draws one architecture per cell type for the architecture update (on the validation
batch) and another for the weight update (on the training batch).  The temperature falls linearly
from ``tau_max`` (10) to ``tau_min`` (0.1) over the epochs.  The heatmap shows the Gumbel-max
distribution, which is exactly ``softmax(alpha)`` whatever the temperature; the supernet is validated
on its most likely architecture (the argmax of each edge).  Samples come from the optimizer's own
CPU generator, saved in its state.
"""
from __future__ import annotations

from typing import Any, TYPE_CHECKING

import torch

from nascore.networks.edges import EdgeFactory
from nascore.networks.sampled import SampledRows, single_path_factory
from nascore.optimizers.components.gumbel import GumbelSettings, gumbel_noise, hard_gumbel_sample, linear_tau
from nascore.optimizers.components.sampling import generator_for
from nascore.optimizers.darts import ArchitectureUpdateSettings, DARTSOptimizer
from nascore.spaces.base import SearchSpace

if TYPE_CHECKING:
    from nascore.config import SearchConfig


class GDASOptimizer(DARTSOptimizer):
    name = "gdas"
    distribution_kind = "gumbel"
    continuous_weights = False  # the supernet runs on hard samples
    second_order = False
    settings = (ArchitectureUpdateSettings, GumbelSettings)

    def __init__(self, space: SearchSpace, config: SearchConfig):
        super().__init__(space, config)
        self.generator = generator_for(config.seed, self.name)

    def edge_factory(self) -> EdgeFactory:
        return single_path_factory(self.space.ops, self.space.pool_bn)

    @property
    def tau(self) -> float:
        return linear_tau(self.config.tau_max, self.config.tau_min, self.epochs_done(), self.config.epochs)

    def sample_weights(self, alphas: list[torch.Tensor]) -> dict[str, SampledRows]:
        """One hard Gumbel sample per cell type, straight-through w.r.t. ``alphas``."""
        out = {}
        for ct, alpha in zip(self.alphas.keys(), alphas):
            noise = gumbel_noise(alpha.shape, self.generator)
            hard, columns = hard_gumbel_sample(alpha, self.masks[ct], self.tau, noise)
            out[ct] = SampledRows(columns, weights=hard)
        return out

    def forward_weights(self) -> dict[str, SampledRows]:
        """The most likely architecture, one op per edge."""
        return {ct: SampledRows(p.argmax(-1).tolist()) for ct, p in self.distribution().items()}

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.generator.set_state(state["generator"])
