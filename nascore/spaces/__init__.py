"""Registry of search spaces by name.  Adding a space: a module and one entry here."""
from __future__ import annotations

from nascore.spaces.base import GenotypeError, SearchSpace
from nascore.spaces.darts import DARTS, S1, S2, S3, S4
from nascore.spaces.nb201 import NB201

SPACES: dict[str, SearchSpace] = {space.name: space for space in (DARTS, NB201, S1, S2, S3, S4)}


def get_space(name: str) -> SearchSpace:
    try:
        return SPACES[name]
    except KeyError:
        raise KeyError(f"unknown space {name!r}; known spaces: {', '.join(sorted(SPACES))}") from None


__all__ = ["SPACES", "get_space", "SearchSpace", "GenotypeError"]
