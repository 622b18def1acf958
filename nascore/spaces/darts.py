"""The DARTS CNN space and its RobustDARTS reductions S1-S4.

A cell has two input nodes (0, 1: the outputs of the two previous cells), four
intermediate nodes (2..5), an edge from every earlier node into every intermediate
node (14 edges), and outputs the concatenation of the intermediate nodes.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import networkx as nx
import torch
from torch import nn

from nascore.networks.darts import DartsSkeleton
from nascore.networks.edges import EdgeFactory, categorical_factory
from nascore.spaces.architectures import ABSENT, Columns, InputsPerNode
from nascore.spaces.base import GenotypeError, SearchSpace, require_ops

DARTS_OPS = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect",
             "sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
STEPS = 4
CELL_TYPES = ("normal", "reduce")


def _g(pairs: Sequence[tuple[str, int]]) -> list[list[Any]]:
    return [[op, node] for op, node in pairs]


#: Published cells in DARTS notation: DARTS (Liu et al., ICLR 2019), NASNet-A (Zoph et al., 2018),
#: AmoebaNet-A (Real et al., 2019), as given with the DARTS paper's code.
PUBLISHED = {
    "darts_v1": {
        "normal": _g([("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
                      ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)]),
        "normal_concat": [2, 3, 4, 5],
        "reduce": _g([("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
                      ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)]),
        "reduce_concat": [2, 3, 4, 5],
    },
    "darts_v2": {
        "normal": _g([("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
                      ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)]),
        "normal_concat": [2, 3, 4, 5],
        "reduce": _g([("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
                      ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)]),
        "reduce_concat": [2, 3, 4, 5],
    },
    "nasnet": {
        "normal": _g([("sep_conv_5x5", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 0), ("sep_conv_3x3", 0),
                      ("avg_pool_3x3", 1), ("skip_connect", 0), ("avg_pool_3x3", 0), ("avg_pool_3x3", 0),
                      ("sep_conv_3x3", 1), ("skip_connect", 1)]),
        "normal_concat": [2, 3, 4, 5, 6],
        "reduce": _g([("sep_conv_5x5", 1), ("sep_conv_7x7", 0), ("max_pool_3x3", 1), ("sep_conv_7x7", 0),
                      ("avg_pool_3x3", 1), ("sep_conv_5x5", 0), ("skip_connect", 3), ("avg_pool_3x3", 2),
                      ("sep_conv_3x3", 2), ("max_pool_3x3", 1)]),
        "reduce_concat": [4, 5, 6],
    },
    "amoebanet": {
        "normal": _g([("avg_pool_3x3", 0), ("max_pool_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 2),
                      ("sep_conv_3x3", 0), ("avg_pool_3x3", 3), ("sep_conv_3x3", 1), ("skip_connect", 1),
                      ("skip_connect", 0), ("avg_pool_3x3", 1)]),
        "normal_concat": [4, 5, 6],
        "reduce": _g([("avg_pool_3x3", 0), ("sep_conv_3x3", 1), ("max_pool_3x3", 0), ("sep_conv_7x7", 2),
                      ("sep_conv_7x7", 0), ("avg_pool_3x3", 1), ("max_pool_3x3", 0), ("max_pool_3x3", 1),
                      ("conv_7x1_1x7", 0), ("sep_conv_3x3", 5)]),
        "reduce_concat": [3, 4, 6],
    },
}


class DartsLikeSpace(SearchSpace):
    """DARTS skeleton with per-edge candidate op lists (the same list everywhere for DARTS)."""

    cell_types = CELL_TYPES
    default_channels = 16
    default_layers = 8
    min_layers = 3  # fewer would leave no normal cell: reductions sit at 1/3 and 2/3 of the depth
    pool_bn = True

    def __init__(self, name: str, title: str, edge_ops: dict[str, list[list[str]]], ops: Sequence[str] = DARTS_OPS,
                 published: dict[str, Any] | None = None):
        self.name, self.title = name, title
        self.ops = tuple(ops)
        self._edge_ops = edge_ops
        self.published = published or {}

    @lru_cache(maxsize=None)
    def cell_graph(self, cell_type: str) -> nx.MultiDiGraph:
        if cell_type not in self.cell_types:
            raise KeyError(f"cell type {cell_type!r} is not one of {self.cell_types}")
        graph = nx.MultiDiGraph(inputs=[0, 1], output=list(range(2, 2 + STEPS)), cell_type=cell_type)
        graph.add_nodes_from([0, 1], kind="input")
        graph.add_nodes_from(range(2, 2 + STEPS), kind="intermediate")
        index = 0
        for node in range(2, 2 + STEPS):
            for src in range(node):
                graph.add_edge(src, node, ops=list(self._edge_ops[cell_type][index]), index=index)
                index += 1
        return graph

    def build_supernet(self, edge_factory: EdgeFactory, channels: int, layers: int, in_channels: int,
                       num_classes: int) -> nn.Module:
        return DartsSkeleton(self.cell_graph, edge_factory, channels, layers, in_channels, num_classes, affine=False)

    def build_network(self, genotype: Any, channels: int, layers: int, in_channels: int, num_classes: int,
                      auxiliary: bool = False, drop_path: bool = False) -> nn.Module:
        genotype = self.resolve(genotype)
        factory = categorical_factory(affine=True, drop_path=drop_path)
        return DartsSkeleton(lambda ct: self.genotype_graph(genotype, ct), factory, channels, layers, in_channels,
                             num_classes, affine=True, auxiliary=auxiliary)

    def derive(self, probs: dict[str, torch.Tensor]) -> dict[str, Any]:
        """DARTS's rule: per node the two incoming edges with the strongest non-none op, each with that op."""
        genotype: dict[str, Any] = {}
        none_col = self.ops.index("none") if "none" in self.ops else None
        for cell_type in self.cell_types:
            weights = probs[cell_type].detach().float().cpu()
            mask = self.op_mask(cell_type)
            edges = self.edges(cell_type)
            gene = []
            for node in range(2, 2 + STEPS):
                rows = [r for r, (_, dst) in enumerate(edges) if dst == node]

                def best(row: int) -> tuple[float, int]:
                    cols = [c for c in range(len(self.ops)) if mask[row, c] and c != none_col]
                    col = max(cols, key=lambda c: (float(weights[row, c]), -c))
                    return float(weights[row, col]), col

                strongest = sorted(rows, key=lambda r: (-best(r)[0], r))[:2]
                for row in strongest:
                    gene.append([self.ops[best(row)[1]], edges[row][0]])
            genotype[cell_type] = gene
            genotype[f"{cell_type}_concat"] = list(range(2, 2 + STEPS))
        return genotype

    # ---- one architecture: two inputs per node, an op other than none on each ----------------------------------
    def _make_rule(self) -> InputsPerNode:
        """DARTS's cells (Liu et al., section 2.1 and 2.4: two inputs per node, ``none`` never kept), as RS-WS and
        ENAS sample them (see :mod:`nascore.spaces.architectures`)."""
        excluded = [self.ops.index("none")] if "none" in self.ops else []
        return InputsPerNode({ct: self.op_mask(ct) for ct in self.cell_types},
                             {ct: self.edges(ct) for ct in self.cell_types}, inputs=2, excluded=excluded)

    def sample_architecture(self, generator: torch.Generator) -> Columns:
        return self.architecture_rule().sample(generator)

    def genotype_of_path(self, columns: Columns) -> dict[str, Any]:
        """Each node's two kept edges with their ops, in source order: exactly the cell the supernet ran."""
        problem = self.architecture_rule().problem(columns)
        if problem:
            raise GenotypeError(problem)
        genotype: dict[str, Any] = {}
        for ct in self.cell_types:
            edges = self.edges(ct)
            gene = []
            for node in range(2, 2 + STEPS):
                for row, (src, dst) in enumerate(edges):
                    if dst == node and columns[ct][row] != ABSENT:
                        gene.append([self.ops[columns[ct][row]], src])
            genotype[ct] = gene
            genotype[f"{ct}_concat"] = list(range(2, 2 + STEPS))
        return genotype

    def parse_genotype(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise GenotypeError(f"a {self.name} genotype is a mapping with keys normal, normal_concat, reduce, "
                                f"reduce_concat, or one of the published names: {', '.join(sorted(self.published))}")
        parsed: dict[str, Any] = {}
        for cell_type in self.cell_types:
            gene, concat = value.get(cell_type), value.get(f"{cell_type}_concat")
            if not isinstance(gene, list) or not gene or len(gene) % 2:
                raise GenotypeError(f"{cell_type}: expected an even, non-empty list of [op, input_node] pairs")
            pairs = []
            for i, item in enumerate(gene):
                if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
                        and isinstance(item[1], int)):
                    raise GenotypeError(f"{cell_type}[{i}]: expected [op, input_node], got {item!r}")
                node = 2 + i // 2
                if not 0 <= item[1] < node:
                    raise GenotypeError(f"{cell_type}[{i}]: node {node} cannot take input from node {item[1]}")
                pairs.append([item[0], item[1]])
            require_ops([op for op, _ in pairs], (), f"the {cell_type} cell")
            n_nodes = len(pairs) // 2
            if concat is None:
                concat = list(range(2, 2 + n_nodes))
            if not isinstance(concat, list) or not concat or any(not isinstance(n, int) or not 2 <= n < 2 + n_nodes for n in concat):
                raise GenotypeError(f"{cell_type}_concat must list intermediate nodes 2..{1 + n_nodes}, got {concat!r}")
            parsed[cell_type], parsed[f"{cell_type}_concat"] = pairs, list(concat)
        return parsed

    def genotype_graph(self, genotype: Any, cell_type: str) -> nx.MultiDiGraph:
        gene, concat = genotype[cell_type], genotype[f"{cell_type}_concat"]
        n_nodes = len(gene) // 2
        graph = nx.MultiDiGraph(inputs=[0, 1], output=list(concat), cell_type=cell_type)
        graph.add_nodes_from([0, 1], kind="input")
        graph.add_nodes_from(range(2, 2 + n_nodes), kind="intermediate")
        for i, (op, src) in enumerate(gene):
            graph.add_edge(src, 2 + i // 2, ops=[op], index=i)
        return graph


def _uniform(ops: Sequence[str]) -> dict[str, list[list[str]]]:
    return {ct: [list(ops)] * 14 for ct in CELL_TYPES}


#: RobustDARTS (Zela et al., ICLR 2020) S1: two candidate ops per edge, chosen per edge by the paper.
S1_EDGE_OPS = {
    "normal": [["skip_connect", "dil_conv_3x3"], ["skip_connect", "dil_conv_5x5"], ["skip_connect", "dil_conv_5x5"],
               ["skip_connect", "sep_conv_3x3"], ["skip_connect", "dil_conv_3x3"], ["max_pool_3x3", "skip_connect"],
               ["skip_connect", "sep_conv_3x3"], ["skip_connect", "sep_conv_3x3"], ["skip_connect", "dil_conv_3x3"],
               ["skip_connect", "sep_conv_3x3"], ["max_pool_3x3", "skip_connect"], ["skip_connect", "dil_conv_3x3"],
               ["dil_conv_3x3", "dil_conv_5x5"], ["dil_conv_3x3", "dil_conv_5x5"]],
    "reduce": [["max_pool_3x3", "avg_pool_3x3"], ["max_pool_3x3", "dil_conv_3x3"], ["max_pool_3x3", "avg_pool_3x3"],
               ["max_pool_3x3", "avg_pool_3x3"], ["skip_connect", "dil_conv_5x5"], ["max_pool_3x3", "avg_pool_3x3"],
               ["max_pool_3x3", "sep_conv_3x3"], ["skip_connect", "dil_conv_3x3"], ["skip_connect", "dil_conv_5x5"],
               ["max_pool_3x3", "avg_pool_3x3"], ["max_pool_3x3", "avg_pool_3x3"], ["skip_connect", "dil_conv_5x5"],
               ["skip_connect", "dil_conv_5x5"], ["skip_connect", "dil_conv_5x5"]],
}

DARTS = DartsLikeSpace("darts", "DARTS CNN cells (8 ops, 14 edges)", _uniform(DARTS_OPS), published=PUBLISHED)
S1 = DartsLikeSpace("s1", "RobustDARTS S1 (two ops per edge, per the paper)", S1_EDGE_OPS,
                    ops=("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3", "dil_conv_5x5"))
S2 = DartsLikeSpace("s2", "RobustDARTS S2 {skip_connect, sep_conv_3x3}", _uniform(("skip_connect", "sep_conv_3x3")),
                    ops=("skip_connect", "sep_conv_3x3"))
S3 = DartsLikeSpace("s3", "RobustDARTS S3 {none, skip_connect, sep_conv_3x3}",
                    _uniform(("none", "skip_connect", "sep_conv_3x3")), ops=("none", "skip_connect", "sep_conv_3x3"))
S4 = DartsLikeSpace("s4", "RobustDARTS S4 {noise, sep_conv_3x3}", _uniform(("noise", "sep_conv_3x3")),
                    ops=("noise", "sep_conv_3x3"))
