"""Primitive operations, a registry from name to constructor.

Every constructor has the same signature ``(C, stride, affine) -> nn.Module`` so a
space can name ops as data and a compiler can build any of them.  ``affine=False``
is the one-shot (search) setting of DARTS; stand-alone networks use ``affine=True``.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Callable

import torch
from torch import nn

OpFactory = Callable[[int, int, bool], nn.Module]
OPS: dict[str, OpFactory] = {}

#: ops whose output carries no learned parameters (the usual collapse symptom)
PARAMETER_FREE = {"none", "skip_connect", "max_pool_3x3", "avg_pool_3x3", "noise"}


def register_op(name: str) -> Callable[[OpFactory], OpFactory]:
    """Decorator adding an op constructor to :data:`OPS`."""

    def wrap(fn: OpFactory) -> OpFactory:
        if name in OPS:
            raise ValueError(f"op {name!r} registered twice")
        OPS[name] = fn
        return fn

    return wrap


def build_op(name: str, C: int, stride: int, affine: bool) -> nn.Module:
    """Build the op called ``name``; unknown names raise a KeyError that lists the known ones."""
    return op_factory(name)(C, stride, affine)


#: while a hierarchical space builds its network: the constructors of its ``cell:NAME`` ops (a whole cell as the op
#: of a macro edge), which only that space knows
CELL_OPS: ContextVar[dict[str, OpFactory]] = ContextVar("cell_ops", default={})
CELL_OP_PREFIX = "cell:"


def op_factory(name: str) -> OpFactory:
    """The constructor of a registered op, of a family op named by its kernel (``sep_conv_9x9``), or of a cell op
    of the space being built (``cell:normal``)."""
    factory = OPS.get(name) or CELL_OPS.get().get(name)
    if factory is not None:
        return factory
    for family in OP_FAMILIES.values():
        kernel = family.kernel_of(name)
        if kernel is not None:
            return lambda C, stride, affine: family.build(C, stride, affine, kernel)
    raise KeyError(f"unknown op {name!r}; known ops: {', '.join(sorted(OPS))}, or a family op "
                   f"({', '.join(f.example for f in OP_FAMILIES.values())}) with an odd kernel up to {MAX_KERNEL}")


def is_op(name: str) -> bool:
    """Whether ``name`` is a registered op, a family op with a valid kernel or a cell op (``cell:NAME``, checked
    against its space's cells where the space is read)."""
    if name.startswith(CELL_OP_PREFIX):
        return True
    try:
        op_factory(name)
    except KeyError:
        return False
    return True


#: the largest kernel a family op may have (a 13x13 separable conv is already past anything published)
MAX_KERNEL = 11


class OpFamily:
    """Ops that differ by their kernel only, named ``prefix_KxK`` (``sep_conv_5x5``): a space written as a document
    asks for ``{family: sep_conv, kernel: 9}`` and gets ``sep_conv_9x9`` without anything being registered."""

    def __init__(self, family: str, build: Callable[[int, int, bool, int], nn.Module], template: str = "{f}_{k}x{k}"):
        self.family, self.build, self.template = family, build, template
        self.example = template.format(f=family, k="K")

    def name(self, kernel: int) -> str:
        return self.template.format(f=self.family, k=kernel)

    def kernel_of(self, name: str) -> int | None:
        for kernel in range(1, MAX_KERNEL + 1, 2):
            if self.name(kernel) == name:
                return kernel
        return None


class Zero(nn.Module):
    """The ``none`` op: a zero tensor of the output shape."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class Identity(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Noise(nn.Module):
    """RobustDARTS S4's ``noise`` op: Gaussian noise of the output shape, no signal."""

    def __init__(self, stride: int, mean: float = 0.0, std: float = 1.0):
        super().__init__()
        self.stride, self.mean, self.std = stride, mean, std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        return torch.empty_like(x).normal_(self.mean, self.std)


class StridedPointwiseSafeConv2d(nn.Conv2d):
    """``nn.Conv2d`` (same parameters, same state dict) that runs a narrow 1x1 strided conv in NCHW.

    oneDNN's backward of a channels-last 1x1 stride-2 conv with 2 to 7 input channels corrupts memory (torch 2.14 on
    CPU: "double free", "corrupted size vs. prev_size" or a segfault; seen with one thread, on AVX2 and AVX-512
    machines alike). Such convs (FactorizedReduce's, a macro graph's downsampling projection) run in NCHW, weights
    included; every other conv is a plain ``nn.Conv2d``."""

    #: the narrowest input that oneDNN's channels-last kernel handles correctly
    MIN_CHANNELS_LAST = 8

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (self.kernel_size != (1, 1) or self.stride == (1, 1) or x.shape[1] >= self.MIN_CHANNELS_LAST
                or x.device.type != "cpu"):
            return super().forward(x)
        # a 1x1 kernel is "contiguous" in both layouts, so only a clone gives it NCHW strides
        weight = self.weight.clone(memory_format=torch.contiguous_format)
        return nn.functional.conv2d(x.contiguous(), weight, self.bias, self.stride, self.padding, self.dilation,
                                    self.groups)


class ReLUConvBN(nn.Sequential):
    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, affine: bool = True, dilation: int = 1):
        super().__init__(
            nn.ReLU(inplace=False),
            StridedPointwiseSafeConv2d(C_in, C_out, kernel, stride=stride, padding=padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU, depthwise (dilated) conv, pointwise conv, BN."""

    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, dilation: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_in, kernel, stride=stride, padding=padding, dilation=dilation, groups=C_in, bias=False),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked depthwise-separable convs, as in DARTS."""

    def __init__(self, C_in: int, C_out: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            DilConv(C_in, C_in, kernel, stride, padding, 1, affine),
            DilConv(C_in, C_out, kernel, 1, padding, 1, affine),
        )


class FactorizedReduce(nn.Module):
    """Halves the resolution with two offset 1x1 convs of stride 2 (the reducing skip)."""

    def __init__(self, C_in: int, C_out: int, affine: bool = True):
        super().__init__()
        if C_out % 2:
            raise ValueError("FactorizedReduce needs an even number of output channels")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = StridedPointwiseSafeConv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.conv_2 = StridedPointwiseSafeConv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = x[:, :, 1:, 1:]
        if shifted.shape[-1] < 1 or shifted.shape[-2] < 1:
            shifted = x
        a = self.conv_1(x)
        b = self.conv_2(shifted)
        if b.shape[-2:] != a.shape[-2:]:
            b = nn.functional.pad(b, (0, a.shape[-1] - b.shape[-1], 0, a.shape[-2] - b.shape[-2]))
        return self.bn(torch.cat([a, b], dim=1))


class Conv7x1_1x7(nn.Sequential):
    def __init__(self, C: int, stride: int, affine: bool):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
            nn.Conv2d(C, C, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
            nn.BatchNorm2d(C, affine=affine),
        )


register_op("none")(lambda C, stride, affine: Zero(stride))
register_op("noise")(lambda C, stride, affine: Noise(stride))
register_op("avg_pool_3x3")(lambda C, stride, affine: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False))
register_op("max_pool_3x3")(lambda C, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1))
register_op("skip_connect")(lambda C, stride, affine: Identity() if stride == 1 else FactorizedReduce(C, C, affine))
register_op("sep_conv_3x3")(lambda C, stride, affine: SepConv(C, C, 3, stride, 1, affine))
register_op("sep_conv_5x5")(lambda C, stride, affine: SepConv(C, C, 5, stride, 2, affine))
register_op("sep_conv_7x7")(lambda C, stride, affine: SepConv(C, C, 7, stride, 3, affine))
register_op("dil_conv_3x3")(lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine))
register_op("dil_conv_5x5")(lambda C, stride, affine: DilConv(C, C, 5, stride, 4, 2, affine))
register_op("conv_7x1_1x7")(lambda C, stride, affine: Conv7x1_1x7(C, stride, affine))
register_op("nor_conv_1x1")(lambda C, stride, affine: ReLUConvBN(C, C, 1, stride, 0, affine))
register_op("nor_conv_3x3")(lambda C, stride, affine: ReLUConvBN(C, C, 3, stride, 1, affine))


#: op families by name (the kernel is the argument); the registered ops above are members where their names match
OP_FAMILIES: dict[str, OpFamily] = {f.family: f for f in (
    OpFamily("sep_conv", lambda C, stride, affine, k: SepConv(C, C, k, stride, k // 2, affine)),
    OpFamily("dil_conv", lambda C, stride, affine, k: DilConv(C, C, k, stride, k - 1, 2, affine)),
    OpFamily("nor_conv", lambda C, stride, affine, k: ReLUConvBN(C, C, k, stride, k // 2, affine)),
    OpFamily("avg_pool", lambda C, stride, affine, k: nn.AvgPool2d(k, stride=stride, padding=k // 2,
                                                                  count_include_pad=False)),
    OpFamily("max_pool", lambda C, stride, affine, k: nn.MaxPool2d(k, stride=stride, padding=k // 2)),
)}


def starts_with_relu(module: nn.Module) -> bool:
    """Whether ``module`` is a Sequential whose first layer (at any depth) is a ReLU.

    Every conv op of DARTS starts with a ReLU of the same input; a mixed op computes that ReLU
    once per edge and runs the rest with :func:`forward_after_relu` (the same result, fewer
    kernels and fewer saved activations).
    """
    if not isinstance(module, nn.Sequential) or len(module) == 0:
        return False
    return isinstance(module[0], nn.ReLU) or starts_with_relu(module[0])


def forward_after_relu(module: nn.Sequential, relu_x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` given ``relu_x = relu(x)``, for a module where :func:`starts_with_relu` holds."""
    layers = iter(module)
    first = next(layers)
    x = relu_x if isinstance(first, nn.ReLU) else forward_after_relu(first, relu_x)
    for layer in layers:
        x = layer(x)
    return x


def build_search_op(name: str, C: int, stride: int, pool_bn: bool) -> nn.Module:
    """An op as it sits in a one-shot supernet: no affine BN, and (DARTS) a BN after pools
    so that parameter-free ops are on the same scale as the convs they compete with."""
    op = build_op(name, C, stride, affine=False)
    if pool_bn and "pool" in name and not name.startswith(CELL_OP_PREFIX):
        op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
    return op
