"""Saved spaces: check a document (every problem by its place), save it as a new space or as the next version of
one the user owns, and pin a config's ``name`` to ``name@N``.

A version is never changed once saved; an invalid document is never saved (nothing half-created). Pages, the API
and the admin all come here."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from nascore.spaces import BUILTIN_NAMES, SPACES
from nascore.spaces.document import DocumentError, check_document, read_text, size_problems
from nascore.spaces.document_space import DocumentSpace
from nascore.spaces.summary import summarize
from webapp.experiments.models import SavedSpace
from webapp.experiments.selectors import spaces as saved

#: the largest document text taken, and the largest size a preview builds its supernet at
MAX_DOCUMENT = 100_000
MAX_CHANNELS = 64
MAX_LAYERS = 20
#: what one document may ask of this server: nodes and candidate ops per cell, cell types, stages, growth factors
MAX_NODES = 32
MAX_CELL_OPS = 1024
MAX_CELL_TYPES = 8
MAX_STAGES = 6
MAX_GROWTH = 4


class SpaceInvalid(Exception):
    """A document (or a size) that cannot be saved or previewed; ``errors`` maps each place to what is wrong."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass
class Checked:
    """What checking a document found: its data, the space (when valid), every problem, the summary at a size."""

    text: str
    data: Any = None
    space: DocumentSpace | None = None
    problems: dict[str, str] = field(default_factory=dict)
    summary: dict[str, Any] | None = None

    @property
    def valid(self) -> bool:
        return self.space is not None and not self.problems


def _size_value(value: Any, name: str, bound: int, problems: dict[str, str]) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        problems[name] = f"{name} is a whole number, not {value!r}"
        return None
    if number < 1 or number > bound:
        problems[name] = f"{name} must be between 1 and {bound} for a preview, not {number}"
        return None
    return number


def check(text: Any, channels: Any = None, layers: Any = None, with_summary: bool = True, user: Any = None,
          of: str | None = None) -> Checked:
    """Read and check a document; for a valid one, the summary at ``channels`` and ``layers`` (the document's defaults
    when empty). Problems of the size are named ``channels`` and ``layers``; with ``user``, a name that belongs to
    another user's space is a problem of ``name`` too, and with ``of`` a name other than that space's (as saving
    would say)."""
    if not isinstance(text, str) or not text.strip():
        return Checked(text="" if not isinstance(text, str) else text, problems={"document": "paste or upload a space document (YAML or JSON)"})
    out = Checked(text=text)
    if len(text) > MAX_DOCUMENT:
        out.problems["document"] = f"a space document may have at most {MAX_DOCUMENT:,} characters, not {len(text):,}"
        return out
    aliases = _alias_problem(text)
    if aliases:
        out.problems["document"] = aliases
        return out
    try:
        out.data = read_text(text)
    except DocumentError as exc:
        out.problems = dict(exc.problems)
        return out
    limits = _raw_limits(out.data)
    if limits:
        out.problems.update(limits)
        return out
    doc, problems = check_document(out.data)
    if doc is not None and not problems:
        problems = _space_limits(doc)
    out.problems.update(problems)
    if doc is not None and doc.name in BUILTIN_NAMES:
        out.problems["name"] = f"{doc.name!r} is a built-in space's name; give yours another name"
    elif doc is not None and of is not None and doc.name != of:
        out.problems["name"] = _RENAMED.format(of=of, name=doc.name)
    elif doc is not None and user is not None and _taken(doc.name, user):
        out.problems["name"] = _TAKEN.format(name=doc.name)
    size: dict[str, str] = {}
    chosen_channels = _size_value(channels, "channels", MAX_CHANNELS, size)
    chosen_layers = _size_value(layers, "layers", MAX_LAYERS, size)
    if doc is not None and not problems:
        from nascore.spaces.document_space import DocumentSpace

        out.space = DocumentSpace(doc)
        if not size:
            size.update(size_problems(doc, chosen_channels, chosen_layers))
        if with_summary and not size and not out.problems:
            out.summary = preview_summary(out.space, chosen_channels, chosen_layers)
    out.problems.update(size)
    return out


def save(user: Any, text: Any, of: str | None = None) -> SavedSpace:
    """Store a valid document as the next version of its name (version 1 for a new name). ``of``: the space the user
    means to add a version to (the document's name must be it). Raises SpaceInvalid naming every problem; nothing is
    stored then."""
    checked = check(text, with_summary=False, of=of)
    if not checked.valid:
        raise SpaceInvalid(checked.problems)
    assert checked.space is not None
    name = checked.space.name
    summary = preview_summary(checked.space)
    try:
        with transaction.atomic():
            if _taken(name, user):
                raise SpaceInvalid({"name": _TAKEN.format(name=name)})
            # serialise the versions of one name: lock the rows there are (a first version relies on the constraint)
            list(SavedSpace.objects.select_for_update().filter(name=name).values_list("pk", flat=True))
            last = SavedSpace.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0
            return SavedSpace.objects.create(owner=user, name=name, version=last + 1, title=checked.space.title,
                                             document=checked.text, summary=summary)
    except IntegrityError:
        raise SpaceInvalid({"name": f"another version of {name!r} was saved at the same moment; save again"}) from None


_TAKEN = "the name {name!r} belongs to another user's space; choose another name"
_RENAMED = "a new version of {of} keeps its name: the document is named {name!r}"


def _taken(name: str, user: Any) -> bool:
    owner = saved.owner_of(name)
    return owner is not None and owner.pk != user.pk


def next_reference(name: str) -> str:
    """What saving a document named ``name`` would store: ``name@1`` for a new name, else the next version."""
    last = SavedSpace.objects.filter(name=name).aggregate(v=Max("version"))["v"] or 0
    return f"{name}@{last + 1}"


def _alias_problem(text: str) -> str | None:
    """YAML anchors and aliases are refused: a few lines of them can stand for a document too large to read."""
    import yaml

    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                return "YAML aliases (*name) are not accepted here: write the values out"
    except yaml.YAMLError:
        return None  # read_text names the line
    return None


def _raw_limits(data: Any) -> dict[str, str]:
    """What this server refuses before checking the document's meaning: too many cell types or nodes."""
    out: dict[str, str] = {}
    cells = data.get("cells") if isinstance(data, dict) else None
    if isinstance(cells, dict):
        if len(cells) > MAX_CELL_TYPES:
            out["cells"] = f"at most {MAX_CELL_TYPES} cell types on this server, not {len(cells)}"
        for ct, cell in cells.items():
            for key in ("inputs", "nodes"):
                nodes = cell.get(key) if isinstance(cell, dict) else None
                if isinstance(nodes, list) and len(nodes) > MAX_NODES:
                    out[f"cells.{ct}.{key}"] = f"at most {MAX_NODES} {key} per cell on this server, not {len(nodes)}"
    return out


def _space_limits(doc: Any) -> dict[str, str]:
    """What this server refuses of a valid document: too many candidate ops in a cell, too deep a skeleton."""
    from nascore.spaces.schema import StagesMacro, cell_candidates

    out: dict[str, str] = {}
    for ct, cell in doc.cells.items():
        count = sum(len(c) for c in cell_candidates(doc, cell))
        if count > MAX_CELL_OPS:
            out[f"cells.{ct}.edges"] = (f"at most {MAX_CELL_OPS} candidate ops in a cell (edges x ops) on this server, "
                                        f"not {count}")
    macro = doc.macro
    if isinstance(macro, StagesMacro) and macro.stages > MAX_STAGES:
        out["macro.stages"] = f"at most {MAX_STAGES} stages on this server, not {macro.stages}"
    if macro.channel_growth > MAX_GROWTH:
        out["macro.channel_growth"] = f"at most {MAX_GROWTH} on this server, not {macro.channel_growth}"
    if getattr(macro, "stem_multiplier", 1) > MAX_GROWTH:
        out["macro.stem_multiplier"] = f"at most {MAX_GROWTH} on this server, not {macro.stem_multiplier}"
    return out


def preview_summary(space: DocumentSpace, channels: int | None = None, layers: int | None = None) -> dict[str, Any]:
    """The summary at a size, a default size beyond this server's preview bounds counted at the bounds."""
    channels = channels or min(space.default_channels, MAX_CHANNELS)
    layers = layers or min(space.default_layers, MAX_LAYERS)
    return summarize(space, channels, layers)


def pin(space: str) -> str:
    """A config's space as it is stored: a saved space named without its version becomes ``name@latest``."""
    if space in SPACES:
        return space
    ref = saved.parse_reference(space)
    if ref is None or ref[1] is not None:
        return space
    found = saved.latest(ref[0])
    return found.reference if found is not None else space
