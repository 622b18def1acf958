"""A cell graph compiled once into a flat, topologically ordered module list.

The forward pass is a plain loop over precomputed (target, [(source, edge)]) steps;
there is no graph walk per batch.
"""
from __future__ import annotations

from typing import Sequence

import networkx as nx
import torch
from torch import nn

from nascore.networks.edges import EdgeFactory


class CompiledCell(nn.Module):
    """Evaluates a cell DAG whose input nodes are given and whose edges are edge modules.

    Graph conventions (see :mod:`nascore.spaces.base`): nodes are ints, ``graph.graph["inputs"]``
    lists the input nodes, ``graph.graph["output"]`` is either a node or a list of nodes to
    concatenate; each edge has ``ops`` (candidate op names) and ``index`` (its row in the
    architecture weights).  ``stride_of(src)`` tells the stride of edges leaving ``src``.
    """

    def __init__(self, graph: nx.MultiDiGraph, C: int, edge_factory: EdgeFactory, reduction: bool = False):
        super().__init__()
        inputs = list(graph.graph["inputs"])
        self.inputs = inputs
        self.output = graph.graph["output"]
        self.edges = nn.ModuleList()
        self.edge_rows: list[int] = []
        plan: list[tuple[int, list[tuple[int, int]]]] = []
        for node in nx.topological_sort(graph):
            if node in inputs:
                continue
            incoming = []
            for src, _, data in sorted(graph.in_edges(node, data=True), key=lambda e: e[2]["index"]):
                stride = 2 if reduction and src in inputs else 1
                self.edges.append(edge_factory(data["ops"], C, stride))
                self.edge_rows.append(data["index"])
                incoming.append((src, len(self.edges) - 1))
            plan.append((node, incoming))
        self.plan = plan

    def forward(self, inputs: Sequence[torch.Tensor], weights: torch.Tensor | None = None) -> torch.Tensor | list[torch.Tensor]:
        states = dict(zip(self.inputs, inputs))
        for node, incoming in self.plan:
            total = None
            for src, slot in incoming:
                row = None if weights is None else weights[self.edge_rows[slot]]
                out = self.edges[slot](states[src], row)
                total = out if total is None else total + out
            # a node whose every edge was `none` (left out of a stand-alone cell) carries zeros
            states[node] = total if total is not None else torch.zeros_like(inputs[-1])
        if isinstance(self.output, (list, tuple)):
            return torch.cat([states[n] for n in self.output], dim=1)
        return states[self.output]
