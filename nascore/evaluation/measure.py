"""Size of a network: parameters, multiply-accumulates of one forward pass, and a
``describe`` that builds any space's stand-alone network or supernet and reports both.

Agnostic to origin: a genotype found by any optimizer, typed by hand or published is
measured the same way.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import torch
from torch import nn

AUXILIARY = "auxiliary"


def _is_auxiliary(name: str) -> bool:
    return AUXILIARY in name.split(".")


def count_params(model: nn.Module, include_auxiliary: bool = False) -> int:
    """Number of parameters of ``model`` (each shared tensor once).

    Parameters under a module named ``auxiliary`` (DARTS's auxiliary head, used only in
    training) are left out unless ``include_auxiliary``: published sizes do not count it.
    """
    return int(sum(p.numel() for name, p in model.named_parameters()
                   if include_auxiliary or not _is_auxiliary(name)))


def count_flops(model: nn.Module, input_shape: Sequence[int], weights: dict[str, torch.Tensor] | None = None) -> int:
    """Multiply-accumulates (MACs) of one forward pass of a single input of ``input_shape``.

    ``input_shape`` is ``(C, H, W)``; a leading batch dimension is ignored (one image is
    measured).  Counted, by forward hooks on a zero input in eval mode:

    - every ``nn.Conv*``: ``output elements x (in_channels / groups) x kernel volume``, so
      stride, padding, dilation and groups (depthwise convs) enter through the output size
      and the group width;
    - every ``nn.Linear``: ``output elements x in_features``.

    Not counted: biases, BatchNorm, pooling, activations, additions and concatenations
    (cheap next to the convs, and left out by the usual "FLOPs" of NAS papers).  A module
    called several times is counted each time.  Eval mode means training-only branches,
    such as DARTS's auxiliary head, are not counted either.  Each module's ``training`` flag
    is restored afterwards.

    For a supernet pass its architecture ``weights`` (``{cell_type: edges x ops}``): every
    candidate op that the forward pass computes is counted, i.e. the cost of one search step's
    forward pass rather than of any one architecture.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 4:
        shape = shape[1:]
    if len(shape) != 3 or any(s <= 0 for s in shape):
        raise ValueError(f"input_shape must be (channels, height, width) of positive sizes, not {tuple(input_shape)}")
    modes = {module: module.training for module in model.modules()}
    try:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
        x = torch.zeros((1, *shape), device=device)
        model.eval()
        with counting_macs(model) as counted, torch.no_grad():
            if weights is None:
                model(x)
            else:
                model(x, {k: w.to(device) for k, w in weights.items()})
    finally:
        for module, mode in modes.items():
            module.training = mode
    return int(counted[0])


@contextmanager
def counting_macs(model: nn.Module) -> Iterator[list[int]]:
    """Count the multiply-accumulates of the forward passes run inside the block, into a one-item list (by forward
    hooks, removed afterwards): convolutions ``output elements x in_channels / groups x kernel volume``, linear
    layers ``output elements x in_features``."""
    counted = [0]

    def conv_hook(module: nn.modules.conv._ConvNd, inputs: Any, output: torch.Tensor) -> None:
        kernel = 1
        for k in module.kernel_size:
            kernel *= int(k)
        counted[0] += output.numel() * (module.in_channels // module.groups) * kernel

    def linear_hook(module: nn.Linear, inputs: Any, output: torch.Tensor) -> None:
        counted[0] += output.numel() * module.in_features

    handles = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    handles += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    try:
        yield counted
    finally:
        for handle in handles:
            handle.remove()


def uniform_weights(space: Any) -> dict[str, torch.Tensor]:
    """Architecture weights of a supernet at initialisation: for each cell type the softmax of
    zeros over the candidate ops of each edge (``space.op_mask``), zero elsewhere."""
    weights = {}
    for cell_type in space.cell_types:
        mask = space.op_mask(cell_type)
        logits = torch.zeros(mask.shape).masked_fill(~mask, float("-inf"))
        weights[cell_type] = torch.softmax(logits, dim=-1)
    return weights


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, not {value!r}")
    return value


def describe(space_name: str, genotype: Any = None, supernet: bool = False, channels: int | None = None,
             layers: int | None = None, num_classes: int = 10, in_channels: int = 3, image_size: int = 32) -> dict[str, Any]:
    """Build the stand-alone network of ``genotype`` (a published name or a genotype of the
    space) or, with ``supernet=True``, the space's one-shot supernet, and report its size.

    Returns ``space``, ``channels``, ``layers`` (the space's defaults where None: DARTS C=16
    and 8 cells, NAS-Bench-201 C=16 and N=5 cells per stage), ``num_classes``, ``in_channels``,
    ``image_size``, ``params`` (without the auxiliary head), ``flops`` (MACs of one image,
    see :func:`count_flops`) and either ``genotype`` (parsed) and ``auxiliary_params`` (the
    DARTS auxiliary head, 0 where the space has none) or ``arch_params`` (the number of
    architecture weights).  Raises ValueError for unknown spaces and bad sizes; a genotype that
    does not belong to the space raises :class:`~nascore.spaces.GenotypeError` (a ValueError).
    """
    from nascore.networks.edges import mixed_op_factory
    from nascore.spaces import get_space

    try:
        space = get_space(space_name)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    if supernet and genotype is not None:
        raise ValueError("describe either a genotype or the supernet (supernet=True), not both")
    if not supernet and genotype is None:
        raise ValueError("give a genotype (or a published name) to describe, or supernet=True")
    channels = space.default_channels if channels is None else _positive_int(channels, "channels")
    layers = space.default_layers if layers is None else _positive_int(layers, "layers")
    num_classes = _positive_int(num_classes, "num_classes")
    in_channels = _positive_int(in_channels, "in_channels")
    image_size = _positive_int(image_size, "image_size")
    problems = space.check_size(channels, layers)
    if problems:
        raise ValueError("; ".join(problems.values()))
    info: dict[str, Any] = {"space": space_name, "channels": channels, "layers": layers, "num_classes": num_classes,
                            "in_channels": in_channels, "image_size": image_size, "supernet": bool(supernet)}
    shape = (in_channels, image_size, image_size)
    if supernet:
        model = space.build_supernet(mixed_op_factory(space.ops, space.pool_bn), channels, layers, in_channels,
                                     num_classes)
        info["params"] = count_params(model)
        info["arch_params"] = space.num_arch_params()
        info["flops"] = count_flops(model, shape, uniform_weights(space))
    else:
        parsed = space.resolve(genotype)
        model = space.build_network(parsed, channels, layers, in_channels, num_classes, auxiliary=True)
        info["genotype"] = parsed
        if isinstance(genotype, str) and genotype in space.published:
            info["genotype_name"] = genotype
        info["params"] = count_params(model)
        info["auxiliary_params"] = count_params(model, include_auxiliary=True) - info["params"]
        info["flops"] = count_flops(model, shape)
    return info
