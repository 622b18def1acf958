"""Command-line flags generated from settings models: one flag per setting, grouped by component, with the
setting's description, default and source as help.  Adding a setting adds its flag; nothing is restated here.

Values are parsed by type only (an integer flag takes an integer); bounds and choices are left to the one
validator (:func:`nascore.settings.validate_settings`) so the CLI reports them with every other problem, in the
same words as the form and the API.
"""
from __future__ import annotations

import argparse
import typing
from typing import Any, Sequence

from nascore.settings import Settings, base_type, fields_of, info_of


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _optional(parse: Any, choices: Sequence[str] = ()) -> Any:
    """A parser that also takes ``none`` (the setting's None: e.g. the space's default size) and ``default``;
    ``none`` stays a value where it is one of the setting's choices (the regulariser ``none``)."""

    def convert(text: str) -> Any:
        if text in choices:
            return parse(text)
        return None if text.strip().lower() in ("none", "default") else parse(text)

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def help_text(field_info: Any) -> str:
    info = info_of(field_info)
    default = field_info.get_default(call_default_factory=True)
    shown = info.none_text() if default is None and info.none_means else repr(default)
    return f"{field_info.description} Default: {shown} ({info.source}).".replace("%", "%%")


def add_settings_arguments(parser: argparse.ArgumentParser, groups: Sequence[type[Settings]],
                           skip: Sequence[str] = ()) -> list[str]:
    """Add a flag for every setting of ``groups`` (grouped under each model's title); every flag defaults to
    None, meaning "not given", so a config file's value or the setting's default applies.  Returns the names."""
    names: list[str] = []
    sections: dict[str, argparse._ArgumentGroup] = {}
    for name, (group, field_info) in fields_of(groups).items():
        if name in skip:
            continue
        title = group.title or group.__name__
        section = sections.get(title) or sections.setdefault(title, parser.add_argument_group(title))
        kind = base_type(field_info)
        info = info_of(field_info)
        kwargs: dict[str, Any] = {"dest": name, "default": None, "help": help_text(field_info)}
        if typing.get_origin(field_info.annotation) is list:  # a list: the flag given once per item
            kwargs.update(action="append", metavar="VALUE")
        elif kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            parse = {int: int, float: float}.get(kind, str)  # type: ignore[arg-type]
            nullable = field_info.default is None
            kwargs["type"] = _optional(parse, info.choice_names()) if nullable else parse
            if info.choices is not None:
                kwargs["metavar"] = "{" + ",".join(info.choice_names()) + "}"
            else:
                kwargs["metavar"] = {int: "N", float: "X"}.get(kind, "VALUE")  # type: ignore[arg-type]
        section.add_argument(flag_name(name), **kwargs)
        names.append(name)
    return names


def given_settings(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """The settings the command line gave (flags left out are not in the result)."""
    out = {}
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            out[name] = value
    return out
