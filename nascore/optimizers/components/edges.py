"""What the supernet's edges are, composed: single-path edges for the relaxations that run one chosen op, mixed
edges for the others, either wrapped in PC-DARTS's partial channel connections (Xu et al., ICLR 2020, section 3.2)
when K > 1."""
from __future__ import annotations

from typing import Any

from nascore.networks.edges import EdgeFactory, MixedOp, mixed_op_factory
from nascore.networks.partial import PartialChannelSettings, partial_channel_factory
from nascore.networks.sampled import SinglePathOp, single_path_factory
from nascore.optimizers.components.registry import registry

PARTIAL_CHANNELS = registry("partial_channels", "Partial channels", "partial_channels",
                            "How many of each edge's channels go through its ops (K; 1 = all).")
PARTIAL_CHANNELS.add("off", 1, "every channel goes through the ops (K = 1)", "DARTS (Liu et al., ICLR 2019)")
PARTIAL_CHANNELS.add("on", "K", "1/K of the channels go through the ops, the rest pass by, then a channel shuffle",
                     "PC-DARTS (Xu et al., ICLR 2020), section 3.2", settings=(PartialChannelSettings,))


def edge_factory(space: Any, single_path: bool, partial_channels: int) -> EdgeFactory:
    """The edges of a method whose relaxation runs single paths (or not), with 1/K partial channels."""
    if partial_channels > 1:
        inner = SinglePathOp if single_path else MixedOp
        return partial_channel_factory(space.ops, space.pool_bn, partial_channels, inner)
    return (single_path_factory if single_path else mixed_op_factory)(space.ops, space.pool_bn)


def partial_channel_error(k: int, channels: int, field: str) -> dict[str, str]:
    if channels % k:
        return {field: f"partial channels send 1/K of each edge's channels through the ops: the channel count "
                       f"({channels}) must be a multiple of {field} ({k})"}
    return {}
