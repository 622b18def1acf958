"""A macro skeleton that is itself a searched graph: nodes are feature maps at a scale (a resolution halved
``scale`` times, ``channel_growth ** scale`` times the initial channels), edges carry candidate ops like a cell's,
and a fixed adapter on each edge brings its source to its target's scale and width (a strided 1x1 convolution
down, nearest upsampling and a 1x1 convolution up).  Convolutional neural fabrics (Saxena and Verbeek, NeurIPS
2016: a trellis of layers by scales, every edge a candidate) are one such graph (``documents/fabric.yaml``)."""
from __future__ import annotations

from typing import Any, Mapping

import networkx as nx
import torch
from torch import nn

from nascore.networks.cells import CompiledCell
from nascore.networks.edges import CategoricalOp, EdgeFactory
from nascore.networks.layout import LayoutMixin
from nascore.ops import ReLUConvBN


class CellOp(nn.Module):
    """A whole cell as the op of a macro edge (``cell:NAME``): a hierarchical space chooses among cell types per
    position with the same relaxation as any op.  The skeleton hands every cell op the weights of its forward pass
    (``weights``, kept until the next one: a relaxation may run an op again in its backward pass); a cell that
    outputs several nodes is projected back to the edge's width by a 1x1 convolution."""

    def __init__(self, graph: nx.MultiDiGraph, C: int, stride: int, edge_factory: EdgeFactory, cell_type: str,
                 affine: bool):
        super().__init__()
        self.cell_type = cell_type
        self.dag = CompiledCell(graph, C, edge_factory, reduction=stride == 2)
        output = graph.graph["output"]
        width = len(output) if isinstance(output, (list, tuple)) else 1
        self.project = ReLUConvBN(width * C, C, 1, 1, 0, affine) if width > 1 else None
        self.weights: Mapping[str, Any] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.weights
        out = self.dag([x], None if weights is None else weights[self.cell_type])
        return out if self.project is None else self.project(out)


class Resample(nn.Module):
    """From ``C_in`` channels at scale ``s`` to ``C_out`` at scale ``s + step`` (step -1, 0 or 1)."""

    def __init__(self, C_in: int, C_out: int, step: int, affine: bool):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest") if step < 0 else None
        self.proj = None if (step == 0 and C_in == C_out) else ReLUConvBN(C_in, C_out, 1, 2 if step > 0 else 1, 0, affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up is not None:
            x = self.up(x)
        return x if self.proj is None else self.proj(x)


class GraphSkeleton(LayoutMixin, nn.Module):
    """Stem, the macro graph compiled once (a :class:`CompiledCell` with adapters), global pooling, a classifier."""

    def __init__(self, graph: nx.MultiDiGraph, edge_factory: EdgeFactory, C: int, in_channels: int, num_classes: int,
                 scales: Mapping[int, int], affine: bool, stem_multiplier: int = 1, channel_growth: int = 2,
                 cell_type: str = "macro"):
        super().__init__()
        C_stem = stem_multiplier * C
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C_stem, 3, padding=1, bias=False), nn.BatchNorm2d(C_stem))
        inputs = set(graph.graph["inputs"])

        def width(node: int) -> int:
            return C_stem if node in inputs else C * channel_growth ** scales.get(node, 0)

        def adapter(src: int, dst: int) -> tuple[nn.Module, int]:
            step = scales.get(dst, 0) - scales.get(src, 0)
            return Resample(width(src), width(dst), step, affine), width(dst)

        self.graph = CompiledCell(graph, C, edge_factory, adapter=adapter)
        #: the cells that are ops of macro edges (a plain list: they are registered where they sit)
        self.cell_ops = [m for m in self.graph.modules() if isinstance(m, CellOp)]
        self.cell_type = cell_type
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width(graph.graph["output"]), num_classes)
        self.aux_logits = None

    def forward(self, x: torch.Tensor, weights: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        w = None if weights is None else weights[self.cell_type]
        for op in self.cell_ops:
            op.weights = weights
        out = self.graph([self.stem(self.to_input_layout(x))], w)
        return self.classifier(self.pool(out).flatten(1))

    def set_drop_path(self, prob: float) -> None:
        for module in self.modules():
            if isinstance(module, CategoricalOp):
                module.drop_prob = prob
