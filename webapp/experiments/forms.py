"""The new-experiment form: engine defaults as initial values, engine validation per field."""
from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from nascore.config import DEFAULT_SELECT_SAMPLES
from nascore.config import choices as engine_choices
from nascore.config import defaults as engine_defaults
from nascore.evaluators import BUDGET_UNITS
from nascore.optimizers import OPTIMIZERS
from webapp.experiments import services

#: form fields that map one-to-one onto engine config keys, in display order
CONFIG_FIELDS = [
    "space", "optimizer", "dataset", "epochs", "batch_size", "w_lr", "alpha_lr", "seed", "device",
    "order", "channels", "layers", "steps_per_epoch", "w_lr_min", "w_momentum", "w_weight_decay",
    "alpha_weight_decay", "grad_clip", "train_portion",
    "curvature_every", "early_stop", "early_stop_window", "early_stop_threshold", "ada_factor", "ada_max_increases",
    "select_samples", "select_top_k", "select_epochs",
    "evaluator", "budget", "budget_unit", "runs",
]
BASIC_FIELDS = ["name", "space", "optimizer", "dataset", "epochs", "batch_size", "w_lr", "alpha_lr", "seed", "device"]
#: RobustDARTS (Zela et al., ICLR 2020): curvature tracking, DARTS-ES and DARTS-ADA, a group of their own
ROBUST_FIELDS = ["curvature_every", "early_stop", "early_stop_window", "early_stop_threshold", "ada_factor", "ada_max_increases"]
#: choosing the final architecture after the search (nascore.selection), a group of its own
SELECT_FIELDS = ["select_samples", "select_top_k", "select_epochs"]
OPTIONAL_INTS = ("channels", "layers", "steps_per_epoch")
#: fields an empty value leaves to the engine's default (so clients that do not know them still work)
#: black-box search (rs, re, reinforce, ls): how candidates are scored, and a table search's size
BLACKBOX_FIELDS = ["evaluator", "budget", "budget_unit", "runs"]
OPTIONAL_FIELDS = OPTIONAL_INTS + tuple(ROBUST_FIELDS) + tuple(SELECT_FIELDS) + tuple(BLACKBOX_FIELDS)
CHOICE_FIELDS = ("space", "optimizer", "dataset", "device", "order", "early_stop", "evaluator", "budget_unit")
#: readable names of choice values (the value itself where none is given)
CHOICE_LABELS = {
    "evaluator": {"train": "train: a short stand-alone training of each candidate",
                  "table": "table: look each candidate up in NAS-Bench-201 (nb201, dataset cifar10)"},
    "budget_unit": BUDGET_UNITS,
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
    "select_samples": "Architectures sampled (M)",
    "select_top_k": "Retrained from scratch (K)",
    "select_epochs": "Epochs of each retraining",
}
HELP = {
    "curvature_every": "dominant Hessian eigenvalue of the validation loss w.r.t. the architecture weights",
    "early_stop": "acts when the eigenvalue grows: mean of the earlier k points / mean of the last k < threshold",
    "early_stop_window": "k: points averaged on each side of the comparison (the paper: 5)",
    "early_stop_threshold": "act when earlier/later falls below this (the paper: 0.75)",
    "ada_factor": "DARTS-ADA multiplies the weight decay by this at each trigger",
    "ada_max_increases": "after this many increases DARTS-ADA lets the search run to its end",
    "select_top_k": "the best K by one-shot validation accuracy; at least 2 (for a rank correlation), at most M",
    "select_epochs": "on the search's train split, scored on its validation split",
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
            elif key in SELECT_FIELDS:  # counts; select_samples' default (None) means the method's own
                field = forms.IntegerField(required=False, label=label, initial=initial)
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
        from webapp.experiments.benchmark import status_text

        for name in ("budget", "runs"):
            self.fields[name].required = False
        self.fields["evaluator"].label = "Evaluator (black-box methods: rs, re, reinforce, ls)"
        self.fields["evaluator"].help_text = status_text()
        self.fields["budget"].label = "Budget per run (table)"
        self.fields["budget"].help_text = "queries, or simulated training seconds: see the unit"
        self.fields["budget_unit"].label = "Budget unit (table)"
        self.fields["budget_unit"].help_text = ("seconds: each query costs its cell's 200-epoch training time in the "
                                                "table; a run stops once its time reaches the budget")
        self.fields["runs"].label = "Seeded runs (table)"
        self.fields["runs"].help_text = (f"seeds seed, seed + 1, …: the page plots mean ± std over them; at most "
                                         f"{settings.NASBOARD_MAX_TABLE_QUERIES:,} queries in all")
        default_on = sorted(n for n, cls in OPTIMIZERS.items() if cls.selects_by_default)
        self.fields["select_samples"].help_text = (
            f"ranked with the one-shot weights after the search; 0 = no selection; empty = the method's default: "
            f"{DEFAULT_SELECT_SAMPLES} for {', '.join(default_on)}, 0 for the others")

    def basic_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in BASIC_FIELDS]

    def advanced_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in CONFIG_FIELDS
                if name not in BASIC_FIELDS and name not in ROBUST_FIELDS and name not in SELECT_FIELDS
                and name not in BLACKBOX_FIELDS]

    def blackbox_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in BLACKBOX_FIELDS]

    def blackbox_errors(self) -> bool:
        """Whether a black-box setting has a problem (its group is then shown open)."""
        return self.is_bound and any(name in self.errors for name in BLACKBOX_FIELDS)

    def robust_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ROBUST_FIELDS]

    def selection_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in SELECT_FIELDS]

    def selection_errors(self) -> bool:
        """Whether a selection setting has a problem (its group is then shown open)."""
        return self.is_bound and any(name in self.errors for name in SELECT_FIELDS)

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
