"""PC-DARTS (Xu et al., ICLR 2020): DARTS with partial channel connections and edge normalisation.

Each edge sends ``1/K`` of its channels (``pc_k``, 4 by default) through the mixed op and passes the
rest by, then shuffles channels (:mod:`nascore.networks.partial`).  Edge normalisation adds one
parameter ``beta`` per edge; a node sums its incoming edges weighted by the softmax of their betas
(the compiled cell's ``edge_scale``).  The heatmap shows the op softmax; the architecture is derived
from the op softmax times each edge's normalised beta, as in the paper's code.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nascore.networks.cells import ScaledRows
from nascore.networks.edges import EdgeFactory
from nascore.networks.partial import PartialChannelSettings, partial_channel_factory
from nascore.optimizers.darts import DARTSOptimizer
from nascore.spaces.base import SearchSpace


class PCDARTSOptimizer(DARTSOptimizer):
    name = "pcdarts"
    distribution_kind = "softmax"
    settings = DARTSOptimizer.settings + (PartialChannelSettings,)

    @classmethod
    def config_errors(cls, space: SearchSpace, config: dict[str, Any]) -> dict[str, str]:
        errors = super().config_errors(space, config)
        k = config.get("pc_k", 4)
        channels = config.get("channels") or space.default_channels
        if channels % k:
            errors["pc_k"] = (f"partial channels send 1/K of each edge's channels through the ops: the channel "
                              f"count ({channels}) must be a multiple of pc_k ({k})")
        return errors

    def edge_factory(self) -> EdgeFactory:
        return partial_channel_factory(self.space.ops, self.space.pool_bn, self.config.pc_k)

    def setup(self, model: nn.Module, device: torch.device) -> None:
        super().setup(model, device)
        cfg = self.config
        # incoming edge rows of each node, per cell type, for the per-node softmax of the betas
        self.node_rows: dict[str, list[list[int]]] = {}
        for ct in self.space.cell_types:
            by_node: dict[int, list[int]] = {}
            for row, (_, dst) in enumerate(self.space.edges(ct)):
                by_node.setdefault(dst, []).append(row)
            self.node_rows[ct] = list(by_node.values())
        self.betas = nn.ParameterDict({
            ct: nn.Parameter(1e-3 * torch.randn(len(self.space.edges(ct)), device=device)) for ct in self.space.cell_types
        })
        self.alpha_optimizer = torch.optim.Adam(self.arch_parameters(), lr=cfg.alpha_lr,
                                                betas=(cfg.alpha_beta1, cfg.alpha_beta2),
                                                weight_decay=cfg.alpha_weight_decay)

    def arch_parameters(self) -> list[torch.Tensor]:
        return list(self.alphas.values()) + list(self.betas.values())

    def edge_weights(self, cell_type: str, beta: torch.Tensor) -> torch.Tensor:
        """Each edge's factor: the softmax of the betas over its target node's incoming edges."""
        out = torch.empty_like(beta)
        for rows in self.node_rows[cell_type]:
            idx = torch.tensor(rows, device=beta.device)
            out = out.index_copy(0, idx, F.softmax(beta[idx], dim=0))
        return out

    def weights_from(self, params: list[torch.Tensor]) -> dict[str, ScaledRows]:
        n = len(self.alphas)
        alphas, betas = params[:n], params[n:]
        return {ct: ScaledRows(self._softmax(ct, a), self.edge_weights(ct, b))
                for ct, a, b in zip(self.alphas.keys(), alphas, betas)}

    def derive(self) -> Any:
        with torch.no_grad():
            weights = self.forward_weights()
        return self.space.derive({ct: w.rows * w.edge_scale.unsqueeze(-1) for ct, w in weights.items()})

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "betas": {ct: b.detach().clone() for ct, b in self.betas.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        with torch.no_grad():
            for ct, value in state["betas"].items():
                self.betas[ct].copy_(value)
