"""Saved spaces: which versions there are, who owns a name, which experiments use a version, and the space source
that lets the engine (``nascore.spaces.get_space``) resolve ``name`` (the latest version) and ``name@N`` from the
database, in the web server and in Celery workers alike (registered by the app's ``ready``).

Parsed spaces are cached per saved version (its row): a version never changes once saved."""
from __future__ import annotations

import re
import threading
from typing import Any

from django.db import DatabaseError
from django.db.models import Count, Max, QuerySet
from django.http import Http404

from nascore.spaces import SAVED_NAME_PATTERN, SPACES
from nascore.spaces.base import SearchSpace
from nascore.spaces.document import DocumentError, load_space, read_text
from nascore.spaces.document_space import DocumentSpace
from webapp.experiments.models import Experiment, SavedSpace

#: ``name`` or ``name@version`` of a saved space (the engine's SPACE_PATTERN, less paths)
#: ``name`` or ``name@N``: the engine's form of a saved space's name (the API's schema says the same)
REFERENCE = re.compile(f"^(?:{SAVED_NAME_PATTERN})$")

#: parsed spaces by the saved row's id (a name@version whose row was deleted and saved again is another row)
_CACHE: dict[int, DocumentSpace] = {}
_LOCK = threading.Lock()


def parse_reference(value: Any) -> tuple[str, int | None] | None:
    """(name, version or None for the latest) of ``name`` or ``name@N``; None for anything else."""
    if not isinstance(value, str):
        return None
    if REFERENCE.match(value) is None:
        return None
    name, _, version = value.partition("@")
    return name, int(version) if version else None


def versions(name: str) -> QuerySet[SavedSpace]:
    """Every version of the saved space ``name``, newest first."""
    return SavedSpace.objects.filter(name=name).select_related("owner").order_by("-version")


def latest(name: str) -> SavedSpace | None:
    return versions(name).first()


def find_version(name: str, version: int | None = None) -> SavedSpace | None:
    """The saved version (the latest when ``version`` is None), or None."""
    if version is None:
        return latest(name)
    return SavedSpace.objects.filter(name=name, version=version).select_related("owner").first()


def get_version(name: str, version: int | None = None) -> SavedSpace:
    """Like :func:`find_version`, a 404 when there is none."""
    found = find_version(name, version) if parse_reference(name) else None
    if found is None:
        raise Http404("no such space")
    return found


def owner_of(name: str) -> Any:
    """Who owns the name (the owner of its first version), or None when it is free."""
    first = SavedSpace.objects.filter(name=name).select_related("owner").order_by("version").first()
    return first.owner if first is not None else None


def latest_versions() -> list[SavedSpace]:
    """The latest version of every saved space, by name."""
    newest = SavedSpace.objects.order_by().values("name").annotate(v=Max("version"))
    wanted = {row["name"]: row["v"] for row in newest}
    rows = SavedSpace.objects.filter(name__in=list(wanted)).select_related("owner").order_by("name")
    return [row for row in rows if wanted[row.name] == row.version]


def version_counts() -> dict[str, int]:
    return {row["name"]: row["n"] for row in SavedSpace.objects.order_by().values("name").annotate(n=Count("id"))}


def experiments_using(reference: str, user: Any | None = None) -> QuerySet[Experiment]:
    """The experiments whose config names this version (``name@N``); only those ``user`` may see when given."""
    from webapp.experiments.selectors.experiments import visible_experiments

    base = visible_experiments(user) if user is not None else Experiment.objects.all()
    return base.filter(space=reference).order_by("-created_at", "-id")


def usage_counts(name: str, user: Any | None = None) -> dict[str, int]:
    """``name@N`` -> how many experiments (that ``user`` sees) use that version."""
    from webapp.experiments.selectors.experiments import visible_experiments

    base = visible_experiments(user) if user is not None else Experiment.objects.all()
    rows = base.filter(space__startswith=f"{name}@").order_by().values("space").annotate(n=Count("id"))
    return {row["space"]: row["n"] for row in rows}


def usage_counts_all(user: Any | None = None) -> dict[str, int]:
    """``name@N`` -> how many experiments (that ``user`` sees) use it, for every saved space."""
    from webapp.experiments.selectors.experiments import visible_experiments

    base = visible_experiments(user) if user is not None else Experiment.objects.all()
    rows = base.filter(space__contains="@").order_by().values("space").annotate(n=Count("id"))
    return {row["space"]: row["n"] for row in rows}


_BUILTIN_SUMMARIES: dict[str, dict[str, Any]] = {}


def builtin_summary(name: str) -> dict[str, Any]:
    """A built-in's summary at its default size (computed once per process)."""
    if name not in _BUILTIN_SUMMARIES:
        from nascore.spaces.summary import summarize

        _BUILTIN_SUMMARIES[name] = summarize(SPACES[name])  # type: ignore[arg-type]
    return _BUILTIN_SUMMARIES[name]


# ---- the engine's source ------------------------------------------------------------------------------------------
def space_of(saved: SavedSpace) -> DocumentSpace:
    """The parsed space of a saved version (cached: versions are immutable)."""
    key = saved.pk
    space = _CACHE.get(key)
    if space is None:
        space = load_space(read_text(saved.document), source=f"saved space {saved.reference}")
        with _LOCK:
            _CACHE[key] = space
    return space


def find_space(value: str) -> SearchSpace | None:
    """The engine's source: ``name`` (latest version) or ``name@N`` from the database, or None."""
    ref = parse_reference(value)
    if ref is None or ref[0] in SPACES:
        return None
    name, version = ref
    try:
        saved = find_version(name, version)
    except (DatabaseError, RuntimeError):  # no database here (a test without one, a command before migrate)
        return None
    if saved is None:
        return None
    try:
        return space_of(saved)
    except DocumentError:  # never saved invalid; an engine change may make an old one so
        return None


def space_names() -> dict[str, str]:
    """Saved spaces by name (each meaning its latest version) with their titles, for the form's choices."""
    try:
        return {row.name: (row.title or row.name) for row in latest_versions()}
    except (DatabaseError, RuntimeError):  # no database here (a test without one, a command before migrate)
        return {}


def register() -> None:
    """Let ``nascore.spaces.get_space`` and ``space_choices`` know the saved spaces (once per process)."""
    from nascore.spaces import SOURCES, register_source

    if any(find is find_space for find, _ in SOURCES):
        return
    register_source(find_space, space_names)
