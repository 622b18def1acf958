"""The new-experiment form: engine defaults as initial values, engine validation per field."""
from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from nascore.config import choices as engine_choices
from nascore.config import defaults as engine_defaults
from webapp.experiments import services

#: form fields that map one-to-one onto engine config keys, in display order
CONFIG_FIELDS = [
    "space", "optimizer", "dataset", "epochs", "batch_size", "w_lr", "alpha_lr", "seed", "device",
    "order", "channels", "layers", "steps_per_epoch", "w_lr_min", "w_momentum", "w_weight_decay",
    "alpha_weight_decay", "grad_clip", "train_portion",
    "curvature_every", "early_stop", "early_stop_window", "early_stop_threshold", "ada_factor", "ada_max_increases",
]
BASIC_FIELDS = ["name", "space", "optimizer", "dataset", "epochs", "batch_size", "w_lr", "alpha_lr", "seed", "device"]
#: RobustDARTS (Zela et al., ICLR 2020): curvature tracking, DARTS-ES and DARTS-ADA, a group of their own
ROBUST_FIELDS = ["curvature_every", "early_stop", "early_stop_window", "early_stop_threshold", "ada_factor", "ada_max_increases"]
OPTIONAL_INTS = ("channels", "layers", "steps_per_epoch")
#: fields an empty value leaves to the engine's default (so clients that do not know them still work)
OPTIONAL_FIELDS = OPTIONAL_INTS + tuple(ROBUST_FIELDS)
CHOICE_FIELDS = ("space", "optimizer", "dataset", "device", "order", "early_stop")
#: readable names of choice values (the value itself where none is given)
CHOICE_LABELS = {
    "early_stop": {"none": "none", "es": "DARTS-ES: stop, return the architecture of k epochs before",
                   "ada": "DARTS-ADA: go back k epochs, raise the weight decay, continue"},
}

LABELS = {
    "w_lr": "Weight learning rate",
    "alpha_lr": "Architecture learning rate",
    "w_lr_min": "Minimum weight learning rate",
    "w_momentum": "Weight momentum",
    "w_weight_decay": "Weight decay",
    "alpha_weight_decay": "Architecture weight decay",
    "grad_clip": "Gradient clip",
    "train_portion": "Train portion (rest is the validation split)",
    "steps_per_epoch": "Steps per epoch",
    "order": "Order (1 = first order, 2 = second order)",
    "curvature_every": "Curvature every N epochs (0 = off)",
    "early_stop": "Early stopping",
    "early_stop_window": "Early-stop window k (curvature points)",
    "early_stop_threshold": "Early-stop threshold",
    "ada_factor": "DARTS-ADA weight-decay factor",
    "ada_max_increases": "DARTS-ADA maximum increases",
}
HELP = {
    "curvature_every": "dominant Hessian eigenvalue of the validation loss w.r.t. the architecture weights",
    "early_stop": "acts when the eigenvalue grows: mean of the earlier k points / mean of the last k < threshold",
    "early_stop_window": "k: points averaged on each side of the comparison (the paper: 5)",
    "early_stop_threshold": "act when earlier/later falls below this (the paper: 0.75)",
    "ada_factor": "DARTS-ADA multiplies the weight decay by this at each trigger",
    "ada_max_increases": "after this many increases DARTS-ADA lets the search run to its end",
}


class ExperimentForm(forms.Form):
    name = forms.CharField(max_length=200, strip=True)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        defaults = engine_defaults()
        known = engine_choices()
        for key in CONFIG_FIELDS:
            label = LABELS.get(key, key.replace("_", " ").capitalize())
            initial = defaults.get(key)
            if key in CHOICE_FIELDS:
                names = CHOICE_LABELS.get(key, {})
                options = [(str(v), names.get(str(v), str(v))) for v in known[key]]
                field: forms.Field = forms.ChoiceField(choices=options, label=label, initial=str(initial),
                                                       required=key not in OPTIONAL_FIELDS)
            elif key in ROBUST_FIELDS:
                kind = forms.IntegerField if isinstance(initial, int) and not isinstance(initial, bool) else forms.FloatField
                field = kind(required=False, label=label, initial=initial)
            elif key in OPTIONAL_INTS:
                field = forms.IntegerField(required=False, label=label, initial=initial,
                                           help_text="leave empty for the default" + (" of the space" if key != "steps_per_epoch" else " (the whole split)"))
            elif isinstance(initial, bool):
                field = forms.BooleanField(required=False, label=label, initial=initial)
            elif isinstance(initial, int):
                field = forms.IntegerField(label=label, initial=initial)
            else:
                field = forms.FloatField(label=label, initial=initial)
            if key in HELP:
                field.help_text = f"{HELP[key]}; default {initial}"
            self.fields[key] = field
        self.fields["epochs"].help_text = f"at most {settings.NASBOARD_MAX_EPOCHS} on this server"
        self.fields["batch_size"].help_text = f"at most {settings.NASBOARD_MAX_BATCH_SIZE} on this server"
        self.fields["device"].help_text = "cuda runs on a GPU worker, cpu on a CPU worker"
        self.fields["name"].initial = "search"

    def basic_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in BASIC_FIELDS]

    def advanced_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in CONFIG_FIELDS if name not in BASIC_FIELDS and name not in ROBUST_FIELDS]

    def robust_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ROBUST_FIELDS]

    def robust_errors(self) -> bool:
        """Whether a RobustDARTS setting has a problem (its group is then shown open)."""
        return self.is_bound and any(name in self.errors for name in ROBUST_FIELDS)

    def config(self) -> dict[str, Any]:
        """The engine config from the fields that parsed; empty optional fields are left to defaults."""
        cfg: dict[str, Any] = {}
        for key in CONFIG_FIELDS:
            if key not in self.cleaned_data:
                continue
            value = self.cleaned_data[key]
            if key == "order":
                value = int(value)
            if value in (None, "") and key in OPTIONAL_FIELDS:
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
