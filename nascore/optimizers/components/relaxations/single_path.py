"""Weight sharing without architecture parameters: the supernet's weights are trained on paths that no learned
distribution chooses, and the architecture is found afterwards with those weights (a derivation that ranks
sampled architectures, :mod:`~nascore.optimizers.components.derivation`).

* ``uniform`` (RS-WS, Li and Talwalkar, UAI 2019, section 3; SPOS, Guo et al., ECCV 2020, section 3.1): every
  step trains one architecture of the space drawn uniformly (``space.sample_architecture``: one op per edge on
  NAS-Bench-201; on DARTS cells two inputs per node and an op on each, the other edges off, as RS-WS's
  ``sample_arch`` draws them) from the method's generator.
* ``all_paths`` (Bender et al., ICML 2018, section 3): every step trains the whole supernet, each edge the plain
  sum of its candidate ops, with DropPath or ScheduledDropPath (``drop_path``, ``drop_path_schedule``) inside the
  edges.

The heatmap shows how often each op was sampled on each edge (uniform for ``all_paths``, which trains every op).
"""
from __future__ import annotations

from typing import Any

import torch

from nascore.networks.sampled import SampledRows, SinglePathOp
from nascore.optimizers.components.relaxations.base import RELAXATIONS, Relaxation
from nascore.optimizers.components.schedules import DropPathSettings, drop_path_rate


class _WeightSharing(Relaxation):
    distribution_kind = "frequency"
    single_path = True
    has_alphas = False
    gradient = False
    learns_distribution = False
    selects_by_default = True

    def update_before(self, train: Any, val: Any) -> None:
        """Nothing to learn: the architecture is found after the search."""

    def distribution(self) -> dict[str, torch.Tensor]:
        return self.method.counter.frequencies()


@RELAXATIONS.register("uniform", "one op per edge drawn uniformly (single path)",
                      "RS-WS (Li and Talwalkar, UAI 2019), section 3; SPOS (Guo et al., ECCV 2020), section 3.1")
class UniformPathRelaxation(_WeightSharing):
    name = "uniform"

    def sample(self, alphas: list[torch.Tensor]) -> dict[str, SampledRows]:
        arch = self.method.space.sample_architecture(self.method.generator)
        self.method.counter.add(arch)
        return {ct: SampledRows(cols) for ct, cols in arch.items()}


@RELAXATIONS.register("all_paths", "every op of every edge, with drop-path",
                      "One-shot (Bender et al., ICML 2018), section 3", settings=(DropPathSettings,))
class AllPathsRelaxation(_WeightSharing):
    name = "all_paths"
    settings = (DropPathSettings,)

    def setup(self, device: torch.device) -> None:
        self.all_ops = {ct: m.to(torch.float32) for ct, m in self.method.masks.items()}
        self.end_epoch()

    def sample(self, alphas: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.all_ops  # every candidate op, weight 1; drop-path inside the edges

    def current_drop_path(self) -> float:
        cfg = self.method.config
        return drop_path_rate(cfg.drop_path, cfg.drop_path_schedule, self.method.epochs_done(), cfg.epochs)

    def end_epoch(self) -> None:
        rate = self.current_drop_path()
        for module in self.method.model.modules():
            if isinstance(module, SinglePathOp):
                module.drop_prob = rate

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.end_epoch()
