"""Edges that compute only some of their candidate ops: the single-path and sampled methods.

A :class:`SinglePathOp` holds every candidate op, like a :class:`~nascore.networks.edges.MixedOp`,
and reads what to compute from what it receives as its weights:

* an :class:`EdgeChoice` (one chosen column, optionally a weight): only that op is computed, and its
  output is multiplied by the weight when there is one (GDAS's hard, straight-through Gumbel sample);
  with ``gates`` and ``other`` it is ProxylessNAS's binarized path (see :class:`BinaryGateFunction`);
* a plain weight row (a tensor): the weighted sum of every op (:class:`MixedOp`'s forward), each op's
  output dropped per sample with probability ``drop_prob`` while training (one-shot drop-path).

:class:`SampledRows` turns a list of chosen columns (one per edge row) into what the compiled cell
indexes by edge row, so a supernet runs a sampled architecture without any other change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import nn

from nascore.networks.edges import MixedOp, drop_path


@dataclass(frozen=True)
class EdgeChoice:
    """What a single-path edge computes: column ``index`` of the space's ops, times ``weight`` if given.

    ``gates`` (a differentiable row of binary gates) and ``other`` (a second sampled column) make it
    ProxylessNAS's two-path architecture step: the output is the ``index`` op's alone, and the gates of
    both paths receive the gradient ``<op_k(x), dL/d output>``.
    """

    index: int
    weight: torch.Tensor | None = None
    gates: torch.Tensor | None = None
    other: int | None = None


class SampledRows:
    """One cell type's sampled architecture: edge row ``r`` computes column ``columns[r]``.

    ``weights`` (edges x ops, optional) supplies each edge's multiplier ``weights[r, columns[r]]``;
    ``gates`` and ``others`` make the rows ProxylessNAS's two-path rows.
    """

    def __init__(self, columns: Sequence[int], weights: torch.Tensor | None = None, gates: torch.Tensor | None = None,
                 others: Sequence[int] | None = None):
        self.columns = [int(c) for c in columns]
        self.weights = weights
        self.gates = gates
        self.others = None if others is None else [int(c) for c in others]

    def __getitem__(self, row: int) -> EdgeChoice:
        col = self.columns[row]
        return EdgeChoice(
            index=col,
            weight=None if self.weights is None else self.weights[row, col],
            gates=None if self.gates is None else self.gates[row],
            other=None if self.others is None else self.others[row],
        )

    def __len__(self) -> int:
        return len(self.columns)

    def one_hot(self, num_ops: int) -> torch.Tensor:
        """Rows edges x ops, a 1 at each row's column; all zeros for a row whose column is negative (an edge the
        architecture leaves out)."""
        out = torch.zeros(len(self.columns), num_ops)
        kept = [r for r, c in enumerate(self.columns) if c >= 0]
        out[torch.tensor(kept, dtype=torch.long), torch.tensor([self.columns[r] for r in kept], dtype=torch.long)] = 1.0
        return out


class BinaryGateFunction(torch.autograd.Function):
    """ProxylessNAS's binarized path with only the active path in memory.

    Forward: the active op's output (its graph is kept for the gradient w.r.t. ``x``).  Backward: the
    gradient w.r.t. ``x`` through the active op, and for the gates of the two sampled paths
    ``dL/dg_k = <op_k(x), dL/d out>``, the inactive op recomputed without a graph.  The ops' own
    weights receive no gradient (an architecture step does not train them).
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, gates: torch.Tensor, run: Callable[[int, torch.Tensor], torch.Tensor],
                active: int, other: int) -> torch.Tensor:
        detached = x.detach().requires_grad_()
        with torch.enable_grad():
            out = run(active, detached)
        ctx.run, ctx.active, ctx.other = run, active, other
        ctx.detached, ctx.out = detached, out
        ctx.gates_shape = gates.shape
        return out.detach()

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:
        detached, out = ctx.detached, ctx.out
        grad_x = None
        if ctx.needs_input_grad[0]:
            if out.requires_grad:
                grad_x, = torch.autograd.grad(out, detached, grad_out, allow_unused=True)
            if grad_x is None:
                grad_x = torch.zeros_like(detached)
        grad_gates = grad_out.new_zeros(ctx.gates_shape)
        grad_gates[ctx.active] = (out.detach() * grad_out).sum()
        with torch.no_grad():
            grad_gates[ctx.other] = (ctx.run(ctx.other, detached.detach()) * grad_out).sum()
        ctx.detached = ctx.out = ctx.run = None
        return grad_x, grad_gates, None, None, None


class SinglePathOp(MixedOp):
    """A MixedOp that can also compute one chosen op (see the module docstring)."""

    def __init__(self, op_names: Sequence[str], C: int, stride: int, all_ops: Sequence[str], pool_bn: bool = True):
        super().__init__(op_names, C, stride, all_ops, pool_bn)
        self._slot_of = {col: k for k, col in enumerate(self._columns)}  # column -> index in self.ops; none: absent
        self.drop_prob = 0.0

    def run(self, column: int, x: torch.Tensor) -> torch.Tensor:
        """The output of the op in ``column`` (zeros of the output shape for ``none`` and for a negative column, an
        edge the sampled architecture leaves out)."""
        slot = self._slot_of.get(column)
        if slot is None:
            if self.stride != 1:
                x = x[:, :, :: self.stride, :: self.stride]
            return torch.zeros_like(x)
        return self.ops[slot](x)

    def forward(self, x: torch.Tensor, weights: Any) -> torch.Tensor:
        if isinstance(weights, EdgeChoice):
            if weights.gates is not None:
                return BinaryGateFunction.apply(x, weights.gates, self.run, weights.index, weights.other)
            out = self.run(weights.index, x)
            return out if weights.weight is None else weights.weight * out
        if self.drop_prob > 0 and self.training:
            out = None
            for col, op in zip(self._columns, self.ops):
                term = weights[col] * drop_path(op(x), self.drop_prob)
                out = term if out is None else out + term
            return out if out is not None else self.run(-1, x)
        return super().forward(x, weights)


def single_path_factory(all_ops: Sequence[str], pool_bn: bool) -> Callable[[Sequence[str], int, int], nn.Module]:
    """An edge factory building :class:`SinglePathOp` edges whose columns follow ``all_ops``."""

    def make(op_names: Sequence[str], C: int, stride: int) -> nn.Module:
        return SinglePathOp(op_names, C, stride, all_ops, pool_bn)

    return make
