"""A cell graph compiled once into a flat, topologically ordered module list.

The forward pass is a plain loop over precomputed (target, [(source, edge)]) steps;
there is no graph walk per batch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import networkx as nx
import torch
from torch import nn

from nascore.networks.edges import EdgeFactory


@dataclass(frozen=True)
class ScaledRows:
    """A cell type's weights whose edges are also scaled: ``rows`` (what each edge module receives,
    indexed by edge row) and ``edge_scale`` (one factor per edge row multiplying that edge's output,
    e.g. PC-DARTS's edge normalisation)."""

    rows: Any
    edge_scale: torch.Tensor

    def __getitem__(self, row: int) -> Any:
        return self.rows[row]

    def replace_rows(self, rows: Any) -> "ScaledRows":
        return ScaledRows(rows, self.edge_scale)


class CompiledCell(nn.Module):
    """Evaluates a cell DAG whose input nodes are given and whose edges are edge modules.

    Graph conventions (see :mod:`nascore.spaces.base`): nodes are ints, ``graph.graph["inputs"]``
    lists the input nodes, ``graph.graph["output"]`` is either a node or a list of nodes to
    concatenate; each edge has ``ops`` (candidate op names) and ``index`` (its row in the
    architecture weights).  ``stride_of(src)`` tells the stride of edges leaving ``src``.
    """

    def __init__(self, graph: nx.MultiDiGraph, C: int, edge_factory: EdgeFactory, reduction: bool = False,
                 adapter: Callable[[int, int], tuple[nn.Module, int]] | None = None):
        """``adapter(source, target)``, where a cell's nodes live at different resolutions and widths (a macro
        graph such as a neural fabric), gives the fixed module that brings ``source`` to ``target``'s resolution
        and width, and that width: the edge's searchable ops then run at it with stride 1."""
        super().__init__()
        inputs = list(graph.graph["inputs"])
        self.inputs = inputs
        self.output = graph.graph["output"]
        self.edges = nn.ModuleList()
        self.adapters = nn.ModuleList() if adapter is not None else None
        self.edge_rows: list[int] = []
        plan: list[tuple[int, list[tuple[int, int]]]] = []
        for node in nx.topological_sort(graph):
            if node in inputs:
                continue
            incoming = []
            for src, _, data in sorted(graph.in_edges(node, data=True), key=lambda e: e[2]["index"]):
                if self.adapters is not None and adapter is not None:
                    module, width = adapter(src, node)
                    self.adapters.append(module)
                    self.edges.append(edge_factory(data["ops"], width, 1))
                else:
                    stride = 2 if reduction and src in inputs else 1
                    self.edges.append(edge_factory(data["ops"], C, stride))
                self.edge_rows.append(data["index"])
                incoming.append((src, len(self.edges) - 1))
            plan.append((node, incoming))
        self.plan = plan

    def forward(self, inputs: Sequence[torch.Tensor], weights: Any = None) -> torch.Tensor | list[torch.Tensor]:
        """``weights``: anything indexable by edge row (a tensor edges x ops, or a method's own rows such as
        sampled paths); if it has an ``edge_scale`` (one factor per edge row, see :class:`ScaledRows`), each
        edge's output is multiplied by its factor before the node sums them."""
        states = dict(zip(self.inputs, inputs))
        scale = getattr(weights, "edge_scale", None)
        for node, incoming in self.plan:
            total = None
            for src, slot in incoming:
                row = None if weights is None else weights[self.edge_rows[slot]]
                x = states[src] if self.adapters is None else self.adapters[slot](states[src])
                out = self.edges[slot](x, row)
                if scale is not None:
                    out = scale[self.edge_rows[slot]] * out
                total = out if total is None else total + out
            # a node whose every edge was `none` (left out of a stand-alone cell) carries zeros
            states[node] = total if total is not None else torch.zeros_like(inputs[-1])
        if isinstance(self.output, (list, tuple)):
            return torch.cat([states[n] for n in self.output], dim=1)
        return states[self.output]
