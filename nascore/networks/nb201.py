"""The NAS-Bench-201 macro skeleton: stem, three stages of N cells at C, 2C, 4C channels
joined by residual reduction blocks, then BN-ReLU, global pooling and a classifier."""
from __future__ import annotations


import networkx as nx
import torch
from torch import nn

from nascore.networks.cells import CompiledCell
from nascore.networks.layout import LayoutMixin
from nascore.networks.edges import EdgeFactory
from nascore.ops import ReLUConvBN


class ResidualReduction(nn.Module):
    """The benchmark's ResNet basic block with stride 2 between stages."""

    def __init__(self, C_in: int, C_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, 2, 1, affine=True)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1, affine=True)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2, padding=0), nn.Conv2d(C_in, C_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Skeleton(LayoutMixin, nn.Module):
    def __init__(self, graph: nx.MultiDiGraph, edge_factory: EdgeFactory, C: int, N: int, in_channels: int,
                 num_classes: int, stages: int = 3, channel_growth: int = 2, cell_type: str = "cell"):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        blocks: list[nn.Module] = []
        self.is_cell: list[bool] = []
        C_prev = C
        self.cell_type = cell_type
        for stage, C_stage in enumerate(C * channel_growth ** k for k in range(stages)):
            if stage > 0:
                blocks.append(ResidualReduction(C_prev, C_stage))
                self.is_cell.append(False)
            for _ in range(N):
                blocks.append(CompiledCell(graph, C_stage, edge_factory))
                self.is_cell.append(True)
            C_prev = C_stage
        self.blocks = nn.ModuleList(blocks)
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)
        self.aux_logits = None

    def forward(self, x: torch.Tensor, weights: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        w = None if weights is None else weights[self.cell_type]
        x = self.stem(self.to_input_layout(x))
        for block, is_cell in zip(self.blocks, self.is_cell):
            x = block([x], w) if is_cell else block(x)
        return self.classifier(self.pool(self.lastact(x)).flatten(1))

    def set_drop_path(self, prob: float) -> None:
        """NAS-Bench-201 trains without drop-path; kept for a uniform evaluator interface."""
