"""Search spaces by name: the built-ins (documents shipped in ``documents/``), spaces other sources know (the
dashboard's saved spaces), and documents given by path.  Adding a built-in space: a document in ``documents/``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping

from nascore.settings import Settings, setting
from nascore.spaces.base import SearchSpace
from nascore.spaces.document import DocumentError, read_file
from nascore.spaces.document_space import DocumentSpace
from nascore.spaces.genotypes import GenotypeError

BUILTIN_DIR = Path(__file__).parent / "documents"
BUILTIN_NAMES = ("darts", "nb201", "s1", "s2", "s3", "s4")
#: what a space's value may be besides a built-in's name: a saved space (``name`` or ``name@version``) or a path
SAVED_NAME_PATTERN = r"[a-z][a-z0-9_]{0,39}(@[1-9][0-9]{0,8})?"
SPACE_PATTERN = SAVED_NAME_PATTERN + r"|.+\.(yaml|yml|json)"


def load_path(path: str | os.PathLike) -> DocumentSpace:
    """The space a document file describes; raises DocumentError naming every problem."""
    from nascore.spaces.document import load_space

    return load_space(read_file(path), source=str(path))


def _load_builtin(name: str) -> DocumentSpace:
    space = load_path(BUILTIN_DIR / f"{name}.yaml")
    space.source = f"built-in ({name}.yaml)"
    return space


SPACES: dict[str, SearchSpace] = {name: _load_builtin(name) for name in BUILTIN_NAMES}

#: other places spaces come from, e.g. the dashboard's saved spaces: ``find(name)`` gives a space or None,
#: ``names()`` the names it offers with their titles
SpaceSource = tuple[Callable[[str], SearchSpace | None], Callable[[], Mapping[str, str]]]
SOURCES: list[SpaceSource] = []
_PATHS: dict[tuple[str, float], DocumentSpace] = {}


def register_source(find: Callable[[str], SearchSpace | None], names: Callable[[], Mapping[str, str]]) -> None:
    """Let ``get_space`` find spaces kept elsewhere (the webapp registers its saved spaces at start-up)."""
    SOURCES.append((find, names))


def is_document_path(value: str) -> bool:
    return value.endswith((".yaml", ".yml", ".json"))


def get_space(name: str) -> SearchSpace:
    """A built-in, a space a source knows, or the document at a path.  An unknown name or a missing file raises
    KeyError; a document that is not a valid space raises DocumentError (every problem named)."""
    if name in SPACES:
        return SPACES[name]
    if not isinstance(name, str):
        raise KeyError(f"a space is named by a string, not {name!r}")
    for find, _ in SOURCES:
        found = find(name)
        if found is not None:
            return found
    if is_document_path(name):
        path = Path(name)
        if not path.is_file():
            raise KeyError(f"no space document at {name}")
        key = (str(path.resolve()), path.stat().st_mtime)
        if key not in _PATHS:
            _PATHS[key] = load_path(path)
        return _PATHS[key]
    from nascore.settings import _did_you_mean

    known = sorted(space_choices())
    raise KeyError(f"unknown space {name!r}{_did_you_mean(name, known)}; choose one of: {', '.join(known)} "
                   "(or a path to a space document: .yaml, .yml, .json)")


def space_choices() -> dict[str, str]:
    """The spaces a form offers: the built-ins and every source's, with their titles."""
    out = {name: f"{name}: {space.title}" for name, space in SPACES.items()}
    for _, names in SOURCES:
        for name, title in names().items():
            out.setdefault(name, f"{name}: {title}")
    return out


def space_problem(name: Any) -> str | None:
    """Why ``name`` names no usable space, or None."""
    try:
        get_space(name)
    except KeyError as exc:
        return str(exc.args[0])
    except DocumentError as exc:
        return f"the space document {name} is not valid: {exc}"
    return None


class SpaceSettings(Settings):
    """Which space, and the size of its network (cells and channels)."""

    title = "Search space"

    space: str = setting("darts", "The search space (cell graph, candidate ops, macro skeleton): a built-in, a saved "
                                  "space (name or name@version) or a path to a space document.",
                         source="DARTS (Liu et al., ICLR 2019), the space most methods were published on",
                         choices=space_choices, pattern=SPACE_PATTERN,
                         pattern_text="NAME@VERSION or PATH.yaml",
                         basic=True)
    channels: int | None = setting(None, "Initial channels of the network.", gt=0, source="the space's own default",
                                   none_means="the space's default (DARTS: 16 for the search)")
    layers: int | None = setting(None, "Cells of the network (nb201: cells per stage).", gt=0,
                                 source="the space's own default", none_means="the space's default (DARTS: 8 cells)")

    @classmethod
    def checks(cls, config: Mapping[str, Any]) -> dict[str, str]:
        """A saved space's name or a document's path has the right form; here it must also name a valid space."""
        problem = space_problem(config["space"])
        return {"space": problem} if problem else {}


def size_errors(config: Mapping[str, Any]) -> dict[str, str]:
    """Whether the space can be built at the config's size (a final check: it runs once every setting is valid,
    :meth:`SpaceSettings.checks` having found the space)."""
    return get_space(config["space"]).check_size(config["channels"], config["layers"])


__all__ = ["SPACES", "get_space", "SearchSpace", "GenotypeError", "SpaceSettings", "size_errors", "DocumentSpace",
           "DocumentError", "register_source", "space_choices", "space_problem", "load_path"]
