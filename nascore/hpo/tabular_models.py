"""The networks of Auto-PyTorch Tabular's space: shaped MLPs and shaped ResNets with shake-shake and shake-drop
(Zimmer, Lindauer and Hutter, TPAMI 2021, section 3.1; automl/Auto-PyTorch, autoPyTorch/components/networks/
feature/shapedmlpnet.py and shapedresnet.py: widths and dropout "funnel" from their maxima towards the output).

Shake-shake (Gastaldi, 2017) mixes two residual branches with a random convex weight forward and another one
backward; shake-drop (Yamada et al., 2019) scales a branch by ``b + alpha - b * alpha`` forward (``b`` a Bernoulli
keep with probability ``1 - p``, ``alpha`` uniform in [-1, 1]) and by ``b + beta - b * beta`` backward (``beta``
uniform in [0, 1]); at evaluation both use their expectations (0.5 each; ``1 - p``).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


def funnel(maximum: float, minimum: float, steps: int) -> list[float]:
    """``steps`` values falling linearly from ``maximum`` towards ``minimum`` (the first is the maximum)."""
    if steps <= 1:
        return [maximum]
    return [maximum - (maximum - minimum) * i / steps for i in range(steps)]


class ShapedMLP(nn.Module):
    """``layers`` linear-ReLU-dropout layers, widths and dropout falling from their maxima, then the classifier."""

    def __init__(self, in_features: int, num_classes: int, layers: int, max_units: int, max_dropout: float):
        super().__init__()
        widths = [max(num_classes, round(w)) for w in funnel(max_units, num_classes, layers)]
        drops = funnel(max_dropout, 0.0, layers)
        body: list[nn.Module] = []
        width = in_features
        for units, drop in zip(widths, drops):
            body += [nn.Linear(width, units), nn.ReLU()]
            if drop > 0:
                body.append(nn.Dropout(drop))
            width = units
        self.body = nn.Sequential(*body)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class _ShakeShake(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        alpha = torch.rand(a.shape[0], 1, device=a.device, dtype=a.dtype)
        return alpha * a + (1 - alpha) * b

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        beta = torch.rand(grad.shape[0], 1, device=grad.device, dtype=grad.dtype)
        return beta * grad, (1 - beta) * grad


class _ShakeDrop(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, keep: float) -> torch.Tensor:
        gate = torch.bernoulli(torch.full((x.shape[0], 1), keep, device=x.device, dtype=x.dtype))
        ctx.save_for_backward(gate)
        alpha = torch.empty_like(gate).uniform_(-1.0, 1.0)
        return x * (gate + alpha - gate * alpha)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (gate,) = ctx.saved_tensors
        beta = torch.rand_like(gate)
        return grad * (gate + beta - gate * beta), None


class ResBlock(nn.Module):
    """BN-ReLU-linear-BN-ReLU-(dropout)-linear, one branch or two (shake-shake), optionally shake-dropped."""

    def __init__(self, width_in: int, width: int, dropout: float, shake_drop: float, shake_shake: bool):
        super().__init__()

        def branch() -> nn.Sequential:
            layers: list[nn.Module] = [nn.BatchNorm1d(width_in), nn.ReLU(), nn.Linear(width_in, width),
                                       nn.BatchNorm1d(width), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            layers.append(nn.Linear(width, width))
            return nn.Sequential(*layers)

        self.a = branch()
        self.b = branch() if shake_shake else None
        self.shortcut = nn.Linear(width_in, width) if width_in != width else nn.Identity()
        self.shake_drop = shake_drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.a(x)
        if self.b is not None:
            out = _ShakeShake.apply(out, self.b(x)) if self.training else 0.5 * (out + self.b(x))
        if self.shake_drop > 0:
            keep = 1.0 - self.shake_drop
            out = _ShakeDrop.apply(out, keep) if self.training else keep * out
        return self.shortcut(x) + out


class ShapedResNet(nn.Module):
    """An input layer to ``max_units``, ``groups`` of ``blocks_per_group`` residual blocks whose widths fall towards
    the output (dropout falls, shake-drop rises with depth, as in the paper), BN-ReLU and the classifier."""

    def __init__(self, in_features: int, num_classes: int, groups: int, blocks_per_group: int, max_units: int,
                 max_dropout: float = 0.0, max_shake_drop: float = 0.0, shake_shake: bool = False):
        super().__init__()
        widths = [max(num_classes, round(w)) for w in funnel(max_units, num_classes, groups)]
        drops = funnel(max_dropout, 0.0, groups)
        total = groups * blocks_per_group
        self.stem = nn.Linear(in_features, widths[0])
        blocks: list[nn.Module] = []
        width = widths[0]
        for g, (units, drop) in enumerate(zip(widths, drops)):
            for k in range(blocks_per_group):
                depth = g * blocks_per_group + k + 1
                blocks.append(ResBlock(width, units, drop, max_shake_drop * depth / total, shake_shake))
                width = units
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.BatchNorm1d(width), nn.ReLU(), nn.Linear(width, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def build_model(params: dict[str, Any], in_features: int, num_classes: int) -> nn.Module:
    """The network a configuration of :func:`nascore.hpo.tabular_space.suggest` names."""
    if params["network"] == "mlp":
        return ShapedMLP(in_features, num_classes, params["layers"], params["max_units"], params["max_dropout"])
    return ShapedResNet(in_features, num_classes, params["groups"], params["blocks_per_group"], params["max_units"],
                        params.get("max_dropout", 0.0), params.get("max_shake_drop", 0.0), params["shake_shake"])
