"""The DARTS macro skeleton: a stem, a stack of normal and reduction cells, a classifier.

One skeleton serves the one-shot supernet (cells with every candidate op on every edge)
and the stand-alone network of a genotype (cells with one op per chosen edge, affine BN,
drop-path and an optional auxiliary head), so both are built from the same cell graphs.
"""
from __future__ import annotations

from typing import Callable, Sequence

import networkx as nx
import torch
from torch import nn

from nascore.networks.cells import CompiledCell
from nascore.networks.layout import LayoutMixin
from nascore.networks.edges import CategoricalOp, EdgeFactory
from nascore.ops import FactorizedReduce, ReLUConvBN


def reduction_layers(layers: int) -> tuple[int, ...]:
    """Reductions at 1/3 and 2/3 of the depth, as in DARTS."""
    return tuple(sorted({layers // 3, 2 * layers // 3}))


class DartsCell(nn.Module):
    """Preprocesses the two previous cell outputs to C channels, then runs the compiled DAG."""

    def __init__(self, graph: nx.MultiDiGraph, C_pp: int, C_p: int, C: int, reduction: bool, reduction_prev: bool,
                 edge_factory: EdgeFactory, affine: bool):
        super().__init__()
        self.reduction = reduction
        #: a cell of one input takes the previous cell's output only (a space written as a document may say so)
        self.two_inputs = len(graph.graph["inputs"]) == 2
        if self.two_inputs:
            self.pre0 = FactorizedReduce(C_pp, C, affine) if reduction_prev else ReLUConvBN(C_pp, C, 1, 1, 0, affine)
        self.pre1 = ReLUConvBN(C_p, C, 1, 1, 0, affine)
        self.dag = CompiledCell(graph, C, edge_factory, reduction=reduction)
        output = graph.graph["output"]
        self.multiplier = len(output) if isinstance(output, (list, tuple)) else 1

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        if not self.two_inputs:
            return self.dag([self.pre1(s1)], weights)
        return self.dag([self.pre0(s0), self.pre1(s1)], weights)


class AuxiliaryHead(nn.Module):
    """DARTS's auxiliary classifier after the second reduction (8x8 maps on CIFAR)."""

    def __init__(self, C: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.Conv2d(C, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if min(x.shape[-2:]) >= 5:
            x = nn.functional.avg_pool2d(x, 5, stride=3, padding=0, count_include_pad=False)
        else:  # small inputs (digits): same shapes, adaptive pooling
            x = nn.functional.adaptive_avg_pool2d(x, 2)
        x = self.features(x)
        return self.classifier(x.flatten(1))


class DartsSkeleton(LayoutMixin, nn.Module):
    """Stem, ``layers`` cells, global pooling and a linear classifier.

    ``graph_of(cell_type)`` gives each cell type's graph and ``edge_factory`` what its
    edges become.  ``forward(x, weights)`` passes ``weights[cell_type]`` to each cell.  ``reductions`` (default
    DARTS's :func:`reduction_layers`) are the positions of the ``reduce_type`` cells, each multiplying the channels
    by ``channel_growth``.
    """

    def __init__(self, graph_of: Callable[[str], nx.MultiDiGraph], edge_factory: EdgeFactory, C: int, layers: int,
                 in_channels: int, num_classes: int, affine: bool, stem_multiplier: int = 3, auxiliary: bool = False,
                 normal_type: str = "normal", reduce_type: str = "reduce", reductions: Sequence[int] | None = None,
                 channel_growth: int = 2):
        super().__init__()
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C_curr, 3, padding=1, bias=False), nn.BatchNorm2d(C_curr))
        C_pp, C_p, C_curr = C_curr, C_curr, C
        reductions = reduction_layers(layers) if reductions is None else tuple(reductions)
        self.cells = nn.ModuleList()
        self.cell_types: list[str] = []
        self.aux_index = 2 * layers // 3
        self.auxiliary = None
        reduction_prev = False
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                C_curr *= channel_growth
            cell_type = reduce_type if reduction else normal_type
            cell = DartsCell(graph_of(cell_type), C_pp, C_p, C_curr, reduction, reduction_prev, edge_factory, affine)
            self.cells.append(cell)
            self.cell_types.append(cell_type)
            reduction_prev = reduction
            C_pp, C_p = C_p, cell.multiplier * C_curr
            if auxiliary and i == self.aux_index:
                self.auxiliary = AuxiliaryHead(C_p, num_classes)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_p, num_classes)
        self.aux_logits: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, weights: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        s0 = s1 = self.stem(self.to_input_layout(x))
        self.aux_logits = None
        for i, (cell, cell_type) in enumerate(zip(self.cells, self.cell_types)):
            w = None if weights is None else weights[cell_type]
            s0, s1 = s1, cell(s0, s1, w)
            if self.auxiliary is not None and i == self.aux_index and self.training:
                self.aux_logits = self.auxiliary(s1)
        return self.classifier(self.pool(s1).flatten(1))

    def set_drop_path(self, prob: float) -> None:
        """Drop-path probability of every droppable edge (stand-alone training schedules it)."""
        for module in self.modules():
            if isinstance(module, CategoricalOp):
                module.drop_prob = prob
