"""PC-DARTS's edge normalisation (Xu et al., ICLR 2020, section 3.3): one parameter ``beta`` per edge; a node sums
its incoming edges weighted by the softmax of their betas over that node's incoming edges (the compiled cell's
``edge_scale``, :class:`~nascore.networks.cells.ScaledRows`).  The betas learn with the alphas, from the gradient
of the validation loss, and the architecture is derived from the op distribution times each edge's weight, as in
the paper's code."""
from __future__ import annotations

from collections import OrderedDict

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from nascore.networks.cells import ScaledRows
from nascore.optimizers.components.registry import preset_default, registry
from nascore.settings import Settings, setting

EDGE_NORMALIZATION = registry("edge_normalization", "Edge normalisation", "edge_normalization",
                              "Whether a node weights its incoming edges by learned factors.")
EDGE_NORMALIZATION.add("off", False, "every edge counts fully", "DARTS (Liu et al., ICLR 2019), section 2.1")
EDGE_NORMALIZATION.add("on", True, "a softmax of learned betas over each node's incoming edges",
                       "PC-DARTS (Xu et al., ICLR 2020), section 3.3")



class EdgeNormalizationSettings(Settings):
    """Edge normalisation: learned weights of each node's incoming edges."""

    title = "Edge normalisation"

    edge_normalization: bool | None = setting(None, "Override whether nodes weight their incoming edges by learned "
                                                    "factors (PC-DARTS's edge normalisation).",
                                              source="the method's preset (pcdarts: on, PC-DARTS section 3.3)",
                                              none_means=preset_default("edge_normalization"), label="Edge normalisation")


def incoming_rows(edges: list[tuple[int, int]]) -> list[list[int]]:
    """The edge rows entering each node, node by node."""
    by_node: dict[int, list[int]] = {}
    for row, (_, dst) in enumerate(edges):
        by_node.setdefault(dst, []).append(row)
    return list(by_node.values())


class EdgeNormalization:
    """The betas of every cell type and what they do to a cell type's weights."""

    def __init__(self, space: Any, device: torch.device):
        self.node_rows = {ct: incoming_rows(space.edges(ct)) for ct in space.cell_types}
        # an OrderedDict: a plain dict's keys would be sorted, and the betas would no longer follow the cell types
        self.betas = nn.ParameterDict(OrderedDict({
            ct: nn.Parameter(1e-3 * torch.randn(len(space.edges(ct)), device=device)) for ct in space.cell_types
        }))

    def edge_weights(self, cell_type: str, beta: torch.Tensor) -> torch.Tensor:
        """Each edge's factor: the softmax of the betas over its target node's incoming edges."""
        out = torch.empty_like(beta)
        for rows in self.node_rows[cell_type]:
            idx = torch.tensor(rows, device=beta.device)
            out = out.index_copy(0, idx, F.softmax(beta[idx], dim=0))
        return out

    def wrap(self, weights: dict[str, Any], betas: list[torch.Tensor]) -> dict[str, ScaledRows]:
        return {ct: ScaledRows(w, self.edge_weights(ct, b)) for (ct, w), b in zip(weights.items(), betas)}

    def strengths(self, distribution: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The op distribution times each edge's factor: what the architecture is derived from."""
        with torch.no_grad():
            return {ct: p * self.edge_weights(ct, self.betas[ct].detach()).unsqueeze(-1)
                    for ct, p in distribution.items()}
