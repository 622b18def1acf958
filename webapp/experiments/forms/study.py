"""The new-study form, generated from the engine's ``StudySettings`` as the new-experiment form is from the search
settings (:func:`.experiment.build_field`): labels, help, limits and choices are the settings' own.  Values are only
parsed here; the study service's validator (``create_study``) decides, and its messages land beside their fields.
"""
from __future__ import annotations

from typing import Any, Mapping

from django import forms

from nascore.hpo.study import StudySettings
from nascore.settings import info_of
from webapp.experiments.forms.experiment import build_field

#: settings given one per line in a text box (the CLI's repeated flag)
LIST_FIELDS = ("param",)
#: settings the server decides (``services.studies.SERVER_FIELDS``): the data folder, and a config study's base,
#: which is its parent search's config
SERVER_ONLY = ("data_dir", "config")


class StudyForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True, required=False,
                           help_text="empty: a name from the problem and dataset")
    #: the search whose architecture the study tunes (lineage), when started from a search's page
    parent = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, prefill: Mapping[str, Any] | None = None, **kwargs: Any):
        """``prefill``: values from the query string (``?problem=retrain&space=darts&parent=7``); names that are not
        settings are ignored."""
        super().__init__(*args, **kwargs)
        self.basic_names: list[str] = []
        self.more_names: list[str] = []
        for name, field_info in StudySettings.model_fields.items():
            if name in SERVER_ONLY:
                continue
            basic = info_of(field_info).basic
            (self.basic_names if basic else self.more_names).append(name)
            field = build_field(name, field_info, required=basic)
            if name in LIST_FIELDS:
                field = forms.CharField(label=field.label, help_text=field.help_text + "; one per line",
                                        required=False, widget=forms.Textarea(attrs={"rows": 3}))
            elif isinstance(field, forms.ChoiceField) and info_of(field_info).pattern:
                field = _open_choice(name, field, info_of(field_info).other_values_text())
            self.fields[name] = field
        self.prefilled = [k for k, v in (prefill or {}).items() if k in self.fields and v not in (None, "")]
        for key in self.prefilled:
            self.fields[key].initial = prefill[key]  # type: ignore[index]

    def more_open(self) -> bool:
        """Whether the box of further settings starts open: one of them was prefilled or has an error."""
        return any(n in self.prefilled or (self.is_bound and n in self.errors) for n in self.more_names)

    def mark_errors(self) -> None:
        """Each field with an error points at its message (``aria-describedby``), for screen readers."""
        for name in self.errors:
            if name in self.fields:
                helptext = f" {self[name].auto_id}_helptext" if self.fields[name].help_text else ""
                self.fields[name].widget.attrs.update({"aria-invalid": "true",
                                                       "aria-describedby": f"error-{name}{helptext}"})

    def basic_fields(self) -> list[forms.BoundField]:
        return [self["name"]] + [self[n] for n in self.basic_names]

    def more_fields(self) -> list[forms.BoundField]:
        return [self[n] for n in self.more_names]

    def settings(self) -> dict[str, Any]:
        """The study settings from the fields that parsed; empty optional ones are left to the defaults."""
        out: dict[str, Any] = {}
        for name in self.basic_names + self.more_names:
            value = self.cleaned_data.get(name)
            if name in LIST_FIELDS:
                lines = [line.strip() for line in (value or "").splitlines() if line.strip()]
                if lines:
                    out[name] = lines
                continue
            if value in (None, "") and not self.fields[name].required:
                continue
            out[name] = value
        return out

    def clean(self) -> dict[str, Any]:
        """The engine's one validator of study settings checks what parsed (bounds, choices, min_epochs against
        max_epochs, ...), so every error shows at once; the study service checks again when it creates."""
        from nascore.config import ConfigError
        from nascore.hpo.study import validate_study

        cleaned = super().clean()
        try:
            validate_study(self.settings())
        except ConfigError as exc:
            self.add_errors(exc.errors)
        return cleaned

    def add_errors(self, errors: Mapping[str, str]) -> None:
        """The service's refusal, each message beside its field (the rest at the top)."""
        for key, message in errors.items():
            if key not in self.errors:  # the field's own parse error says it already
                self.add_error(key if key in self.fields else None, message)


def _open_choice(name: str, field: forms.ChoiceField, form_text: str) -> forms.CharField:
    """A setting that takes a listed name or any value of a pattern (``csv:NAME``): a text box that suggests the
    listed names (a datalist) instead of a select that could not take the rest."""
    names = [value for value, _ in field.choices if value != ""]
    widget = forms.TextInput(attrs={"list": f"{name}-choices"})
    out = forms.CharField(label=field.label, required=field.required, initial=field.initial, widget=widget,
                          help_text=f"{field.help_text}; one of {', '.join(names)} or {form_text}")
    out.suggestions = names  # type: ignore[attr-defined]
    return out
