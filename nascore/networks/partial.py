"""PC-DARTS's partial channel connections (Xu et al., ICLR 2020).

A :class:`PartialChannelMixedOp` sends the first ``C // k`` channels of its input through a mixed op
of ``C // k`` channels and passes the other channels by (max-pooled when the edge reduces), then
shuffles the channels in ``k`` groups so that another subset goes through the ops on the next edge.
Edge normalisation (weighting each node's incoming edges) is the compiled cell's ``edge_scale``
(:class:`~nascore.networks.cells.ScaledRows`).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import nn

from nascore.networks.edges import MixedOp


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's shuffle: channels ``[g0 | g1 | ...]`` in ``groups`` groups become interleaved."""
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class PartialChannelMixedOp(nn.Module):
    def __init__(self, op_names: Sequence[str], C: int, stride: int, all_ops: Sequence[str], pool_bn: bool, k: int,
                 inner: Callable[..., nn.Module] = MixedOp):
        super().__init__()
        if C % k:
            raise ValueError(f"partial channels need the channel count ({C}) to be a multiple of K={k}")
        self.k = k
        self.stride = stride
        self.part = C // k
        self.mixed = inner(op_names, self.part, stride, all_ops, pool_bn)
        # ceil_mode: the same output size as the stride-2 ops (ceil(H/2)), also for odd sizes
        self.pool = nn.MaxPool2d(2, 2, ceil_mode=True) if stride != 1 else None

    def forward(self, x: torch.Tensor, weights: Any) -> torch.Tensor:
        through, bypass = x[:, : self.part], x[:, self.part:]
        y = self.mixed(through, weights)
        if self.pool is not None:
            bypass = self.pool(bypass)
        return channel_shuffle(torch.cat([y, bypass], dim=1), self.k)


def partial_channel_factory(all_ops: Sequence[str], pool_bn: bool, k: int, inner: Callable[..., nn.Module] = MixedOp
                            ) -> Callable[[Sequence[str], int, int], nn.Module]:
    """Edges that send 1/``k`` of their channels through an ``inner`` edge (a MixedOp, or a SinglePathOp for the
    single-path relaxations)."""

    def make(op_names: Sequence[str], C: int, stride: int) -> nn.Module:
        return PartialChannelMixedOp(op_names, C, stride, all_ops, pool_bn, k, inner)

    return make
