"""The NAS-Bench-201 cell space (Dong and Yang, ICLR 2020).

Four nodes, an edge from every node to every later one (6 edges), five candidate ops;
node 0 is the cell input and node 3 its output.  Architectures are written in the
benchmark's string form: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import networkx as nx
import torch
from torch import nn

from nascore.networks.edges import EdgeFactory, categorical_factory
from nascore.networks.nb201 import NB201Skeleton
from nascore.spaces.base import GenotypeError, SearchSpace

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NODES = 4
#: (source, target) in the benchmark's string order
EDGES = [(src, dst) for dst in range(1, NODES) for src in range(dst)]

PUBLISHED = {
    # the cell with the best CIFAR-10 test accuracy of the benchmark (94.37%)
    "nb201_best": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    # the ResNet of the benchmark's paper, as a cell
    "nb201_resnet": "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|",
    # DARTS's collapse on NAS-Bench-201: every edge a skip connection
    "nb201_all_skip": "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
}


def format_arch(ops: list[str]) -> str:
    """The benchmark string of six edge ops given in :data:`EDGES` order."""
    groups, i = [], 0
    for dst in range(1, NODES):
        groups.append("|" + "|".join(f"{ops[i + src]}~{src}" for src in range(dst)) + "|")
        i += dst
    return "+".join(groups)


def parse_arch(text: str) -> list[str]:
    """The six edge ops of a benchmark string, checked; raises GenotypeError naming the problem."""
    if not isinstance(text, str):
        raise GenotypeError(f"an nb201 architecture is a string like {PUBLISHED['nb201_best']!r}")
    groups = text.strip().split("+")
    if len(groups) != NODES - 1:
        raise GenotypeError(f"{text!r}: expected {NODES - 1} groups separated by '+', found {len(groups)}")
    ops: list[str] = []
    for dst, group in enumerate(groups, start=1):
        if not (group.startswith("|") and group.endswith("|")):
            raise GenotypeError(f"{text!r}: group {dst} must be enclosed in '|'")
        items = [item for item in group[1:-1].split("|")]
        if len(items) != dst:
            raise GenotypeError(f"{text!r}: node {dst} needs {dst} incoming edges, found {len(items)}")
        for src, item in enumerate(items):
            op, sep, node = item.partition("~")
            if not sep or node != str(src):
                raise GenotypeError(f"{text!r}: edge {item!r} into node {dst} must read op~{src}")
            if op not in NB201_OPS:
                raise GenotypeError(f"{text!r}: unknown op {op!r}; nb201 ops are {', '.join(NB201_OPS)}")
            ops.append(op)
    return ops


class NB201Space(SearchSpace):
    name = "nb201"
    title = "NAS-Bench-201 cell (5 ops, 6 edges)"
    cell_types = ("cell",)
    ops = NB201_OPS
    default_channels = 16
    default_layers = 5  # cells per stage (the benchmark's N)
    min_layers = 1
    pool_bn = False
    published = PUBLISHED

    @lru_cache(maxsize=None)
    def cell_graph(self, cell_type: str = "cell") -> nx.MultiDiGraph:
        return self._graph([list(NB201_OPS)] * len(EDGES))

    @staticmethod
    def _graph(edge_ops: list[list[str]]) -> nx.MultiDiGraph:
        graph = nx.MultiDiGraph(inputs=[0], output=NODES - 1, cell_type="cell")
        graph.add_node(0, kind="input")
        graph.add_nodes_from(range(1, NODES - 1), kind="intermediate")
        graph.add_node(NODES - 1, kind="output")
        for index, ((src, dst), ops) in enumerate(zip(EDGES, edge_ops)):
            graph.add_edge(src, dst, ops=list(ops), index=index)
        return graph

    def build_supernet(self, edge_factory: EdgeFactory, channels: int, layers: int, in_channels: int,
                       num_classes: int) -> nn.Module:
        return NB201Skeleton(self.cell_graph("cell"), edge_factory, channels, layers, in_channels, num_classes)

    def build_network(self, genotype: Any, channels: int, layers: int, in_channels: int, num_classes: int,
                      auxiliary: bool = False, drop_path: bool = False) -> nn.Module:
        arch = self.resolve(genotype)
        return NB201Skeleton(self.genotype_graph(arch, "cell"), categorical_factory(affine=True), channels, layers,
                             in_channels, num_classes)

    def derive(self, probs: dict[str, torch.Tensor]) -> str:
        """Argmax per edge (``none`` included, as the benchmark's DARTS baseline does)."""
        weights = probs["cell"].detach().float().cpu()
        return format_arch([self.ops[int(row.argmax())] for row in weights])

    def parse_genotype(self, value: Any) -> str:
        return format_arch(parse_arch(value))

    def genotype_graph(self, genotype: Any, cell_type: str = "cell") -> nx.MultiDiGraph:
        ops = parse_arch(genotype)
        # like the benchmark's InferCell, edges fixed to `none` are left out of the network
        graph = self._graph([[op] for op in ops])
        graph.remove_edges_from([(s, d, k) for s, d, k, data in graph.edges(keys=True, data=True) if data["ops"] == ["none"]])
        return graph


NB201 = NB201Space()
