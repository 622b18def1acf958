"""Registry of search spaces by name.  Adding a space: a module and one entry here."""
from __future__ import annotations

from typing import Any, Mapping

from nascore.settings import Settings, setting
from nascore.spaces.base import GenotypeError, SearchSpace
from nascore.spaces.darts import DARTS, S1, S2, S3, S4
from nascore.spaces.nb201 import NB201

SPACES: dict[str, SearchSpace] = {space.name: space for space in (DARTS, NB201, S1, S2, S3, S4)}


def get_space(name: str) -> SearchSpace:
    try:
        return SPACES[name]
    except KeyError:
        raise KeyError(f"unknown space {name!r}; known spaces: {', '.join(sorted(SPACES))}") from None


class SpaceSettings(Settings):
    """Which space, and the size of its network (cells and channels)."""

    title = "Search space"

    space: str = setting("darts", "The search space (cell graph, candidate ops, macro skeleton).",
                         source="DARTS (Liu et al., ICLR 2019), the space most methods were published on",
                         choices=lambda: sorted(SPACES), basic=True)
    channels: int | None = setting(None, "Initial channels of the network.", gt=0, source="the space's own default",
                                   none_means="the space's default (DARTS: 16 for the search)")
    layers: int | None = setting(None, "Cells of the network (nb201: cells per stage).", gt=0,
                                 source="the space's own default", none_means="the space's default (DARTS: 8 cells)")


def size_errors(config: Mapping[str, Any]) -> dict[str, str]:
    """Whether the space can be built at the config's size (run once every setting is valid)."""
    return SPACES[config["space"]].check_size(config["channels"], config["layers"])


__all__ = ["SPACES", "get_space", "SearchSpace", "GenotypeError", "SpaceSettings", "size_errors"]
