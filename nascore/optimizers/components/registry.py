"""Registries of method components by kind, so that a one-shot method is a list of names (a preset) rather than a
class per method or an if-chain over names.  ``python -m nascore components`` lists them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, TypeVar

from nascore.settings import setting

T = TypeVar("T")


@dataclass(frozen=True)
class Component(Generic[T]):
    """One registered component: what it is (``summary``), where it comes from (``paper``, a paper and section or
    "NASBoard's choice") and the object the method builds it from (``impl``)."""

    kind: str
    name: str
    summary: str
    paper: str
    impl: T
    #: settings models read by this component (besides the one that selects it)
    settings: tuple[type, ...] = ()


@dataclass
class Registry(Generic[T]):
    """The components of one kind by name, in registration order; ``key`` is the config setting that overrides a
    preset's choice of this kind."""

    kind: str
    title: str
    key: str
    about: str
    entries: dict[str, Component[T]] = field(default_factory=dict)

    def add(self, name: str, impl: T, summary: str, paper: str, settings: tuple[type, ...] = ()) -> T:
        if name in self.entries:
            raise ValueError(f"a {self.kind} named {name!r} is registered twice")
        self.entries[name] = Component(self.kind, name, summary, paper, impl, tuple(settings))
        return impl

    def register(self, name: str, summary: str, paper: str, settings: tuple[type, ...] = ()) -> Callable[[T], T]:
        """Class decorator: ``@RELAXATIONS.register("softmax", "...", "DARTS ...")``."""
        return lambda impl: self.add(name, impl, summary, paper, settings)

    def __getitem__(self, name: str) -> Component[T]:
        try:
            return self.entries[name]
        except KeyError:
            raise KeyError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.entries)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def names(self) -> list[str]:
        return list(self.entries)

    def labels(self) -> dict[str, str]:
        """Each name with its summary (the form's choice labels)."""
        return {name: f"{name}: {c.summary}" for name, c in self.entries.items()}


#: every kind's registry, in the order a method is composed (filled by the component modules)
KINDS: dict[str, Registry[Any]] = {}


def registry(kind: str, title: str, key: str, about: str) -> Registry[Any]:
    """A new registry of components of ``kind``, listed in :data:`KINDS`."""
    found = KINDS.setdefault(kind, Registry(kind, title, key, about))
    return found


#: how the presets describe their choice of a kind: :mod:`nascore.optimizers.presets` puts its function here (it
#: imports the components, so a component cannot import it)
PRESET_TEXTS: list[Callable[[str], str]] = []


def override_setting(kinds: "Registry[Any]", description: str, source: str) -> Any:
    """The setting that overrides a preset's choice of a kind of component: one of the registry's names (read when
    asked, so a component registered later is a choice), empty for the preset's."""
    return setting(None, description, source=source, choices=kinds.labels, none_means=preset_default(kinds.kind),
                   label=kinds.title)


def preset_default(kind: str) -> Callable[[], str]:
    """What an empty override of ``kind`` means, preset by preset, computed when asked."""

    def text() -> str:
        return PRESET_TEXTS[0](kind) if PRESET_TEXTS else "the method's preset"

    return text
