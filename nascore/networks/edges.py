"""What an edge of a cell becomes.  Optimizers pick one of these; spaces never do.

Every edge module has ``forward(x, weights)`` where ``weights`` is that edge's row of
the architecture distribution (or ``None`` for a fixed op), so a compiled cell can
drive any of them the same way.
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import torch
from torch import nn

from nascore.ops import build_op, build_search_op, forward_after_relu, starts_with_relu


class EdgeFactory(Protocol):
    def __call__(self, op_names: Sequence[str], C: int, stride: int) -> nn.Module: ...


class MixedOp(nn.Module):
    """One-shot edge: the weighted sum of every candidate op.

    ``none`` contributes exactly zero to the sum and to every gradient, so it is
    not computed at all (the straightforward implementation multiplies a zero tensor).
    ``op_index[k]`` is the column of the edge's weight row that op ``k`` reads.
    """

    def __init__(self, op_names: Sequence[str], C: int, stride: int, all_ops: Sequence[str], pool_bn: bool = True):
        super().__init__()
        self.op_names = list(op_names)
        self.stride = stride
        columns = [all_ops.index(name) for name in self.op_names]
        active = [(col, name) for col, name in zip(columns, self.op_names) if name != "none"]
        self.ops = nn.ModuleList(build_search_op(name, C, stride, pool_bn) for _, name in active)
        self._columns = [col for col, _ in active]
        self._shares_relu = [starts_with_relu(op) for op in self.ops]

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        out = None
        relu_x = None
        for col, op, shares_relu in zip(self._columns, self.ops, self._shares_relu):
            if shares_relu:
                if relu_x is None:
                    relu_x = torch.relu(x)
                y = forward_after_relu(op, relu_x)
            else:
                y = op(x)
            term = weights[col] * y
            out = term if out is None else out + term
        return out


class CategoricalOp(nn.Module):
    """An edge fixed to one op (stand-alone networks, black-box evaluation, retraining)."""

    def __init__(self, op_name: str, C: int, stride: int, affine: bool = True, drop_path: bool = False):
        super().__init__()
        self.op_name = op_name
        self.op = build_op(op_name, C, stride, affine)
        # DARTS applies drop-path to every op but the identity.
        self.droppable = drop_path and not (op_name == "skip_connect" and stride == 1)
        self.drop_prob = 0.0

    def forward(self, x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        out = self.op(x)
        if self.droppable and self.training and self.drop_prob > 0:
            out = drop_path(out, self.drop_prob)
        return out


def drop_path(x: torch.Tensor, prob: float) -> torch.Tensor:
    """Zero whole samples of a path with probability ``prob``, rescaling the rest."""
    keep = 1.0 - prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x.div(keep) * mask


def mixed_op_factory(all_ops: Sequence[str], pool_bn: bool) -> Callable[[Sequence[str], int, int], nn.Module]:
    """An :class:`EdgeFactory` building MixedOps whose weight rows are indexed like ``all_ops``."""

    def make(op_names: Sequence[str], C: int, stride: int) -> nn.Module:
        return MixedOp(op_names, C, stride, all_ops, pool_bn)

    return make


def categorical_factory(affine: bool = True, drop_path: bool = False) -> Callable[[Sequence[str], int, int], nn.Module]:
    """An :class:`EdgeFactory` for graphs whose edges each hold exactly one op."""

    def make(op_names: Sequence[str], C: int, stride: int) -> nn.Module:
        if len(op_names) != 1:
            raise ValueError(f"a categorical edge needs exactly one op, got {list(op_names)}")
        return CategoricalOp(op_names[0], C, stride, affine, drop_path)

    return make
