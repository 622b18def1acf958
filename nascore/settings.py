"""Settings declared once, beside the component that uses them, and the one validator of every run.

Each space, method component, evaluator, dataset and stage declares its settings as a pydantic model
(a :class:`Settings` subclass) next to its code: type, bounds, default, and where the default comes from
(:func:`setting`).  A kind of run (a search, a stand-alone training) is a list of such models; its config is
flat, one key per setting, as it has always been stored.  :func:`validate_settings` checks a raw mapping
against such a list and reports every problem at once as ``{field: message}``; the CLI flags, the form, the
API's request schema and the README's table are generated from the same models.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Mapping, Sequence

import annotated_types as at
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

#: settings that say where and how fast a run happens, not what it computes: a checkpoint written under other
#: values of these may be resumed (another worker, another data folder)
PLACEMENT_FIELDS = frozenset({"data_dir", "download", "device", "num_workers", "benchmark_dir"})


class ConfigError(ValueError):
    """A config that cannot run; ``errors`` maps each bad field to a message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


def without_placement(config: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed (a search's or a stand-alone training's): every setting but
    where the run happens."""
    return {k: v for k, v in config.items() if k not in PLACEMENT_FIELDS}


Choices = Callable[[], Mapping[str, str] | Sequence[str]]


@dataclass(frozen=True)
class SettingInfo:
    """What a setting says about itself beyond its type: where its default comes from and how to show it.

    It is the field's ``json_schema_extra``, so the JSON schema (and the OpenAPI document built on it) carries
    the source (``x-source``) and the live choices (``enum``) of the registries the field names.
    """

    source: str
    label: str | None = None
    #: the accepted values (a registry's names), or a function that lists them when asked (a registry that grows)
    choices: Choices | Sequence[str] | None = None
    #: what None means for an optional setting (e.g. "the space's default"), or a function that says it
    none_means: str | Callable[[], str] | None = None
    #: a reminder added to a type or bounds message (e.g. "the paper: 0.75")
    hint: str | None = None
    #: overrides the generated "must be ..." phrase (e.g. "a folder path")
    expects: str | None = None
    #: the choices accept other values of this form too (the device's "cuda:N", a user dataset's "folder:NAME"):
    #: a regular expression a whole value must match
    pattern: str | None = None
    #: how that form is written for a person ("cuda:N"); default: the pattern itself
    pattern_text: str | None = None
    #: shown in the advanced part of forms (the basic ones are what most runs change)
    basic: bool = False

    def none_text(self) -> str | None:
        return self.none_means() if callable(self.none_means) else self.none_means

    def choice_names(self) -> list[str]:
        if self.choices is None:
            return []
        found = self.choices() if callable(self.choices) else self.choices
        return [str(name) for name in found]

    def choice_labels(self) -> dict[str, str]:
        """A readable label per choice (the registry's description, or the name itself)."""
        found = self.choices() if callable(self.choices) else self.choices
        if isinstance(found, Mapping):
            return {str(k): str(v) for k, v in found.items()}
        return {str(name): str(name) for name in (found or [])}

    def __call__(self, schema: dict[str, Any]) -> None:
        schema["x-source"] = self.source
        if self.none_means:
            schema["x-none-means"] = self.none_text()
        names = self.choice_names()
        target = schema
        for option in schema.get("anyOf", []):  # Optional[...]: the enum goes on the non-null branch
            if option.get("type") != "null":
                target = option
        if names and self.pattern:  # a listed name, or any value of the pattern's form: say both, claim no enum
            target["anyOf"] = [{"enum": names}, {"pattern": f"^(?:{self.pattern})$"}]
        elif names:
            target["enum"] = names

    def other_values_text(self) -> str:
        """How the values outside the listed choices are written ("cuda:N"), or ""."""
        return self.pattern_text or self.pattern or ""


def setting(default: Any, description: str, *, source: str, label: str | None = None,
            choices: Choices | Sequence[str] | None = None, none_means: str | Callable[[], str] | None = None,
            hint: str | None = None,
            expects: str | None = None, pattern: str | None = None, pattern_text: str | None = None,
            basic: bool = False, **bounds: Any) -> Any:
    """A field of a :class:`Settings` model: ``description`` says what it does, ``source`` where its default
    comes from (a paper and section, or "NASBoard's choice"); ``bounds`` are pydantic's (gt, ge, lt, le, ...)."""
    info = SettingInfo(source=source, label=label, choices=choices, none_means=none_means, hint=hint,
                       expects=expects, pattern=pattern, pattern_text=pattern_text, basic=basic)
    return Field(default, description=description, json_schema_extra=info, **bounds)


class Settings(BaseModel):
    """One component's settings.  Strict: ``1.0`` is no integer, ``"1"`` no number, ``1`` no boolean; no NaN
    or infinity; an unknown key is refused."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, validate_default=False)

    #: the heading of the component's group of settings (form, CLI help, README)
    title: ClassVar[str] = ""
    #: models with the same group are shown together (a form's box, its id); default: the title
    group: ClassVar[str] = ""

    @classmethod
    def checks(cls, config: Mapping[str, Any]) -> dict[str, str]:
        """Problems between this component's settings and others', as ``{field: message}``; ``config`` holds
        every valid setting of the run.  A check that reads a setting which is itself invalid is not run (a
        ``KeyError`` skips it): that setting's own message says what is wrong."""
        return {}


def info_of(field_info: FieldInfo) -> SettingInfo:
    extra = field_info.json_schema_extra
    return extra if isinstance(extra, SettingInfo) else SettingInfo(source="NASBoard's choice")


# ---- messages ----------------------------------------------------------------------------------------
def _bounds(field_info: FieldInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in field_info.metadata:
        for name in ("gt", "ge", "lt", "le", "min_length", "max_length"):
            value = getattr(item, name, None)
            if value is not None and isinstance(item, (at.Gt, at.Ge, at.Lt, at.Le, at.MinLen, at.MaxLen)):
                out[name] = value
    return out


def base_type(field_info: FieldInfo) -> type | None:
    annotation = field_info.annotation
    for candidate in (bool, int, float, str):
        if annotation is candidate:
            return candidate
    args = getattr(annotation, "__args__", ())
    for candidate in (bool, int, float, str):
        if candidate in args:
            return candidate
    return None


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def expected_phrase(field_info: FieldInfo) -> str:
    """What a setting must be, in words, from its type and bounds ("a positive integer", "a number in [0, 1)")."""
    info = info_of(field_info)
    if info.expects:
        return info.expects
    kind = base_type(field_info)
    b = _bounds(field_info)
    if kind is bool:
        return "true or false"
    if kind is str:
        return "a non-empty string" if b.get("min_length") else "a string"
    if kind is int:
        low = b["gt"] + 1 if "gt" in b else b.get("ge")
        high = b["lt"] - 1 if "lt" in b else b.get("le")
        if low is not None and high is not None:
            return f"an integer from {low} to {high}"
        if low == 1:
            return "a positive integer"
        if low == 0:
            return "a non-negative integer"
        if low is not None:
            return f"an integer of at least {low}"
        return "an integer"
    if kind is float:
        lo = ("(", b["gt"]) if "gt" in b else ("[", b["ge"]) if "ge" in b else None
        hi = (")", b["lt"]) if "lt" in b else ("]", b["le"]) if "le" in b else None
        if lo and hi:
            if lo == ("(", 0) and hi == (")", 1):
                return "a number strictly between 0 and 1"
            return f"a number in {lo[0]}{_num(lo[1])}, {_num(hi[1])}{hi[0]}"
        if lo == ("(", 0):
            return "a positive number"
        if lo == ("[", 0):
            return "a non-negative number"
        if lo:
            return f"a number greater than {_num(lo[1])}" if lo[0] == "(" else f"a number of at least {_num(lo[1])}"
        return "a number"
    return "a valid value"


def field_message(name: str, field_info: FieldInfo, value: Any) -> str:
    """The message for a value of the wrong type or out of bounds: "epochs must be a positive integer, not 0"."""
    info = info_of(field_info)
    hint = f" ({info.hint})" if info.hint else ""
    return f"{name} must be {expected_phrase(field_info)}{hint}, not {value!r}"


def choice_message(name: str, field_info: FieldInfo, value: Any) -> str:
    names = info_of(field_info).choice_names()
    other = info_of(field_info).other_values_text()
    extra = f" (or {other})" if other else ""
    return f"unknown {name} {value!r}{_did_you_mean(value, names)}; choose one of: {', '.join(names)}{extra}"


def _did_you_mean(value: Any, names: Sequence[str]) -> str:
    """The names the value starts (e.g. 'gumbel': gumbel_hard, gumbel_soft) or nearly spells."""
    if not isinstance(value, str) or not value:
        return ""
    close = [n for n in names if n.startswith(value)] or difflib.get_close_matches(value, list(names), n=2)
    return " (did you mean " + " or ".join(repr(n) for n in close) + "?)" if close else ""


def _in_choices(info: SettingInfo, value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    if value in info.choice_names():
        return True
    if info.pattern:
        import re

        return re.fullmatch(info.pattern, value) is not None
    return False


def unknown_message(key: Any, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(key), list(known), n=1)
    return f"unknown setting {key!r}" + (f"; did you mean {close[0]!r}?" if close else "")


# ---- validation --------------------------------------------------------------------------------------
def fields_of(groups: Sequence[type[Settings]]) -> dict[str, tuple[type[Settings], FieldInfo]]:
    """Every setting of ``groups`` by name, with the model that declares it (a name is declared once)."""
    out: dict[str, tuple[type[Settings], FieldInfo]] = {}
    for group in groups:
        for name, field_info in group.model_fields.items():
            if name in out:
                raise TypeError(f"setting {name!r} is declared by both {out[name][0].__name__} and {group.__name__}")
            out[name] = (group, field_info)
    return out


def config_json_schema(groups: Sequence[type[Settings]], exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON schema of a flat config made of ``groups`` (less ``exclude``): every setting with its type,
    bounds, choices, default, description and source; no other key."""
    skip = set(exclude)
    properties: dict[str, Any] = {}
    for group in groups:
        for name, schema in group.model_json_schema()["properties"].items():
            if name not in skip:
                properties[name] = schema
    return {"type": "object", "additionalProperties": False, "properties": properties}


def defaults_of(groups: Sequence[type[Settings]]) -> dict[str, Any]:
    return {name: f.get_default(call_default_factory=True) for name, (_, f) in fields_of(groups).items()}


FinalCheck = Callable[[dict[str, Any]], dict[str, str]]


def validate_settings(groups: Sequence[type[Settings]], raw: Any, final_checks: Sequence[FinalCheck] = ()) -> dict[str, Any]:
    """The full config (defaults filled in) for ``raw``, or :class:`ConfigError` naming every problem.

    Three passes: each model checks its own fields (types, bounds, choices); each model's :meth:`Settings.checks`
    compares its settings with others'; once everything else is valid, ``final_checks`` (e.g. whether the space
    can be built at that size) run on the whole config.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError({"config": "must be a mapping of settings"})
    declared = fields_of(groups)
    errors: dict[str, str] = {}
    for key in raw:
        if key not in declared:
            errors[str(key)] = unknown_message(key, declared)
    values: dict[str, Any] = {}
    for group in groups:
        given = {k: raw[k] for k in group.model_fields if k in raw}
        bad: set[str] = set()
        try:
            values.update(group.model_validate(given).model_dump())
        except ValidationError as exc:
            for problem in exc.errors():
                name = str(problem["loc"][0]) if problem["loc"] else group.__name__
                if name in group.model_fields and name not in bad:
                    bad.add(name)
                    errors[name] = field_message(name, group.model_fields[name], given.get(name))
            for name, field_info in group.model_fields.items():
                if name not in bad:
                    values[name] = given.get(name, field_info.get_default(call_default_factory=True))
        for name, field_info in group.model_fields.items():
            info = info_of(field_info)
            if name not in bad and info.choices is not None and not _in_choices(info, values[name]):
                bad.add(name)
                errors[name] = choice_message(name, field_info, values[name])
        for name in bad:
            values.pop(name, None)
    for group in groups:
        try:
            problems = group.checks(values)
        except KeyError:
            continue  # a setting it reads is invalid, and already reported
        for name, message in problems.items():
            errors.setdefault(name, message)
    if not errors:
        for check in final_checks:
            for name, message in check(values).items():
                errors.setdefault(name, message)
    if errors:
        raise ConfigError(errors)
    return values


def is_number(value: Any) -> bool:
    """A real, finite number (not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class RunConfig:
    """A validated run config: attribute access to every setting, ``to_dict()`` for the flat stored form.

    Construct it through a validator (``validate_config``, ``validate_eval_config``); ``Kind(**values)`` also
    validates, filling in defaults.
    """

    #: the settings models a run of this kind is composed of
    groups: ClassVar[Callable[[], Sequence[type[Settings]]]]

    def __init__(self, **values: Any):
        object.__setattr__(self, "_values", validate_settings(type(self).groups(), values))

    @classmethod
    def trusted(cls, values: Mapping[str, Any]) -> "RunConfig":
        """Wrap ``values`` that a validator has just produced (no second validation)."""
        obj = cls.__new__(cls)
        object.__setattr__(obj, "_values", dict(values))
        return obj

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"{type(self).__name__} has no setting {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only; build a new one with replace()")

    def replace(self, **changes: Any) -> "RunConfig":
        return type(self)(**{**self._values, **changes})

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    def __hash__(self) -> int:
        return hash(tuple(sorted(map(repr, self._values.items()))))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"

    def __getstate__(self) -> dict[str, Any]:
        return self._values

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "_values", dict(state))
