"""The retrain form: a few sizes with the engine's defaults; the engine and the server limits check the rest."""
from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from webapp.experiments import services
from webapp.experiments.models import Experiment
from webapp.experiments.services.retrain import (
    FORM_FIELDS,
    default_name,
    engine_defaults,
    retrain_initial,
)


class RetrainForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, strip=True,
                           help_text="leave empty for “retrain of #id name”")
    epochs = forms.IntegerField(min_value=1)
    channels = forms.IntegerField(min_value=1, required=False, help_text="leave empty for the space's default")
    layers = forms.IntegerField(min_value=1, required=False, help_text="leave empty for the space's default")
    batch_size = forms.IntegerField(min_value=1, label="Batch size")
    steps_per_epoch = forms.IntegerField(min_value=1, required=False, label="Steps per epoch",
                                         help_text="leave empty for the whole training set; a cap makes quick checks")
    seed = forms.IntegerField(min_value=0)
    device = forms.ChoiceField(choices=[(d, d) for d in services.DEVICES],
                               help_text="cuda runs on a GPU worker, cpu on a CPU worker")

    def __init__(self, search: Experiment, *args: Any, **kwargs: Any):
        kwargs.setdefault("initial", retrain_initial(search))
        super().__init__(*args, **kwargs)
        self.search = search
        defaults = engine_defaults()
        self.fields["name"].widget.attrs["placeholder"] = default_name(search)
        self.fields["epochs"].help_text = f"engine default {defaults['epochs']}; at most {settings.NASBOARD_MAX_EPOCHS} here"
        self.fields["batch_size"].help_text = (f"engine default {defaults['batch_size']}; "
                                               f"at most {settings.NASBOARD_MAX_BATCH_SIZE} here")
        self.fields["seed"].help_text = "the search's seed by default; vary it to retrain over several seeds"

    def config(self) -> dict[str, Any]:
        """The retrain settings from the fields that parsed (empty ones take the engine's default)."""
        return {k: self.cleaned_data[k] for k in FORM_FIELDS if self.cleaned_data.get(k) not in (None, "")}
