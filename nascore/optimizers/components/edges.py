"""What the supernet's edges are, composed: single-path edges for the relaxations that run one chosen op, mixed
edges for the others, either wrapped in PC-DARTS's partial channel connections (Xu et al., ICLR 2020, section 3.2)
when K > 1."""
from __future__ import annotations

from typing import Any

from nascore.networks.edges import EdgeFactory, MixedOp, mixed_op_factory
from nascore.networks.partial import partial_channel_factory
from nascore.networks.sampled import SinglePathOp, single_path_factory
from nascore.optimizers.components.registry import preset_default, registry
from nascore.settings import Settings, setting


class PartialChannelSettings(Settings):
    """Partial channel connections: 1/K of each edge's channels go through its ops.  ``pc_k`` is the pcdarts
    preset's K (what configs always stored); ``partial_channels`` overrides any method's."""

    title = "Partial channels (PC-DARTS)"

    pc_k: int = setting(4, "The pcdarts preset's K: 1/K of each edge's channels go through the ops, the rest pass by.", gt=0,
                        hint="PC-DARTS: 4",
                        source="PC-DARTS (Xu et al., ICLR 2020), section 4.2: K = 4 on CIFAR-10",
                        label="Partial channels K of the pcdarts preset")
    partial_channels: int | None = setting(None, "Override the method's partial channels: K (1/K of each edge's "
                                                 "channels go through its ops); 1 turns them off.", gt=0,
                                           source="the method's preset (pcdarts: pc_k, PC-DARTS section 3.2)",
                                           none_means=preset_default("partial_channels"), label="Partial channels K (override)")


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
