"""The new-experiment form, generated from the engine's settings models.

Every field, its label, help, limits and group come from the component that declares the setting
(:mod:`nascore.settings`); the form restates none of them.  Values are only parsed here (an integer field takes
an integer); bounds, choices and the checks between settings are the engine's one validator's, reached through
``services.clean_config``, whose messages land beside their fields.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.conf import settings

from nascore.config import as_stored, search_settings
from nascore.optimizers import ONE_SHOT, OPTIMIZERS, component_settings
from nascore.optimizers.catalogue import papers_of
from nascore.settings import PLACEMENT_FIELDS, Settings, base_type, info_of
from webapp.experiments import services

#: where a run's data comes from and how it is loaded: the worker's business, not a form's (the API still takes them)
SERVER_DECIDES = PLACEMENT_FIELDS - {"device"}


@dataclass
class SettingsGroup:
    """One box of the form: the settings of one component (or of several under one title)."""

    key: str
    title: str
    about: str
    names: list[str]
    #: the methods whose settings these are (empty: every run's; a box with one method's model is that method's)
    methods: list[str]



@dataclass
class BoundGroup:
    """A group with its bound fields, as the template draws it."""

    key: str
    title: str
    about: str
    methods: list[str]
    bound_fields: list[forms.BoundField]
    has_errors: bool


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def method_groups() -> dict[type[Settings], list[str]]:
    """Each method-specific settings model with the methods that use it."""
    out: dict[type[Settings], list[str]] = {}
    for name, cls in sorted(OPTIMIZERS.items()):
        for model in getattr(cls, "settings", ()):
            out.setdefault(model, []).append(name)
    for model in component_settings():  # a component registered since: any one-shot method may use it
        out.setdefault(model, sorted(ONE_SHOT))
    return out


def settings_groups() -> tuple[list[str], list[SettingsGroup]]:
    """The basic settings (shown first) and the groups of all others, in the order the models are composed."""
    basic: list[str] = []
    groups: dict[str, SettingsGroup] = {}
    users = method_groups()
    for model in search_settings():
        names = []
        for name, field_info in model.model_fields.items():
            if name in services.SERVER_FIELDS or name in SERVER_DECIDES:
                continue
            (basic if info_of(field_info).basic else names).append(name)
        if not names:
            continue
        key = _slug(model.group or model.title or model.__name__)
        methods = users.get(model, [])
        group = groups.get(key)
        if group is None:
            about = " ".join(" ".join((model.__doc__ or "").split() + [papers_of(model)]).split())
            groups[key] = SettingsGroup(key, model.title, about, names, methods)
        else:
            group.names.extend(names)
            group.methods = sorted(set(group.methods) | set(methods))  # one method's model makes it the method's
    return basic, list(groups.values())


def _label(name: str, field_info: Any) -> str:
    return info_of(field_info).label or name.replace("_", " ").capitalize()


def _help(field_info: Any) -> str:
    info = info_of(field_info)
    default = field_info.get_default(call_default_factory=True)
    shown = f"empty: {info.none_text()}" if default is None and info.none_means else f"default {default}"
    return f"{field_info.description} ({shown}; {info.source})"


def build_field(name: str, field_info: Any, required: bool) -> forms.Field:
    """A form field that parses the setting's type; limits go to the widget as hints (min, max)."""
    info = info_of(field_info)
    kind = base_type(field_info)
    default = field_info.get_default(call_default_factory=True)
    common = {"label": _label(name, field_info), "help_text": _help(field_info),
              "initial": default, "required": required and default is not None}
    if info.choices is not None:
        options = list(info.choice_labels().items())
        if default is None:
            options = [("", "default")] + options
        return forms.ChoiceField(choices=options, **{**common, "initial": "" if default is None else str(default)})
    if kind is bool and default is None:  # on, off, or empty: what None means (a preset's choice)
        widget = forms.NullBooleanSelect()
        widget.choices = [("unknown", f"default ({info.none_text() or 'none'})"), ("true", "on"), ("false", "off")]
        return forms.NullBooleanField(widget=widget, **{**common, "required": False})
    if kind is bool:
        return forms.BooleanField(**{**common, "required": False})
    attrs: dict[str, Any] = {}
    for item in field_info.metadata:
        for bound, attr in (("ge", "min"), ("gt", "min"), ("le", "max"), ("lt", "max")):
            if hasattr(item, bound) and getattr(item, bound) is not None:
                attrs[attr] = getattr(item, bound) + (1 if bound == "gt" and kind is int else 0) - (
                    1 if bound == "lt" and kind is int else 0)
    if kind is int:
        return forms.IntegerField(widget=forms.NumberInput(attrs=attrs), **common)
    if kind is float:
        return forms.FloatField(widget=forms.NumberInput(attrs={**attrs, "step": "any"}), **common)
    return forms.CharField(**{**common, "required": False})


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)

    def __init__(self, *args: Any, start_from: dict[str, Any] | None = None, **kwargs: Any):
        """``start_from``: an experiment's name and config to pre-fill ("run again with changes")."""
        super().__init__(*args, **kwargs)
        self.basic_names, self.groups = settings_groups()
        owners = {name: f for model in search_settings() for name, f in model.model_fields.items()}
        for name in self.basic_names:
            self.fields[name] = build_field(name, owners[name], required=True)
        for group in self.groups:
            for name in group.names:
                self.fields[name] = build_field(name, owners[name], required=False)
        self.fields["name"].initial = "search"
        self.fields["epochs"].help_text += f"; at most {settings.NASBOARD_MAX_EPOCHS} on this server"
        self.fields["epochs"].widget.attrs["max"] = settings.NASBOARD_MAX_EPOCHS
        self.fields["batch_size"].help_text += f"; at most {settings.NASBOARD_MAX_BATCH_SIZE} on this server"
        self.fields["batch_size"].widget.attrs["max"] = settings.NASBOARD_MAX_BATCH_SIZE
        self.fields["device"].help_text = "cuda runs on a GPU worker, cpu on a CPU worker, auto where there is room"
        self.fields["device"].choices = [(d, d) for d in services.DEVICES]
        from webapp.experiments.selectors.datasets import user_dataset_names

        own = [(n, f"{n} (your image folder)") for n in user_dataset_names() if n.startswith("folder:")]
        self.fields["dataset"].choices = list(self.fields["dataset"].choices) + own
        if own:
            self.fields["dataset"].help_text += "; yours are the image folders found in the server's data folder"
        from webapp.experiments.presenters.benchmark import status_text

        self.fields["evaluator"].help_text += f". {status_text()}"
        self.fields["runs"].help_text += f"; at most {settings.NASBOARD_MAX_TABLE_QUERIES:,} queries in all"
        self.fields["space"].help_text += "; saved spaces are listed on the Spaces page (a run keeps the version it used)"
        if start_from:
            space = (start_from.get("config") or {}).get("space")
            if isinstance(space, str) and space not in dict(self.fields["space"].choices):  # a saved space's version
                self.fields["space"].choices = list(self.fields["space"].choices) + [(space, f"{space} (as before)")]
            for key, value in as_stored(start_from.get("config", {})).items():
                if key in self.fields and value is not None:
                    self.fields[key].initial = str(value) if isinstance(self.fields[key], forms.ChoiceField) else value
            self.fields["name"].initial = f"{start_from.get('name', 'search')} (again)"[:200]

    def protocol_config(self) -> dict[str, Any]:
        """The page config newform.js fills the fields from when a protocol is picked."""
        from webapp.experiments.presenters.protocols import form_config

        return form_config(self.config_names(), {name: self.fields[name].initial for name in self.config_names()})

    def basic_fields(self) -> list[forms.BoundField]:
        return [self["name"]] + [self[name] for name in self.basic_names]

    def boxes(self) -> list[BoundGroup]:
        return [BoundGroup(g.key, g.title, g.about, g.methods, [self[n] for n in g.names],
                           self.is_bound and any(n in self.errors for n in g.names)) for g in self.groups]

    def config_names(self) -> list[str]:
        return self.basic_names + [name for group in self.groups for name in group.names]

    def config(self) -> dict[str, Any]:
        """The engine config from the fields that parsed; empty optional fields are left to the defaults."""
        cfg: dict[str, Any] = {}
        for key in self.config_names():
            if key not in self.cleaned_data:
                continue
            value = self.cleaned_data[key]
            if value in (None, "") and not self.fields[key].required:
                continue
            cfg[key] = value
        return cfg

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        try:
            services.clean_config(self.config())
        except services.ExperimentInvalid as exc:
            for key, message in exc.errors.items():
                if key in self.errors:
                    continue  # the field's own parse error says it already
                self.add_error(key if key in self.fields else None, message)
        return cleaned
