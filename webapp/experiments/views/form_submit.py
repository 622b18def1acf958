"""Creating an experiment from a valid form: the service's refusals become the form's own messages."""
from __future__ import annotations

from typing import Callable

from django import forms

from webapp.experiments import services
from webapp.experiments.models import Experiment


def create_or_add_errors(form: forms.Form, create: Callable[[], Experiment]) -> Experiment | None:
    """``create()``'s experiment, or None after putting its refusal on ``form``: a field's message beside the
    field, the rest (and a broker that cannot be reached) at the top, so the page can be shown again to fix."""
    try:
        return create()
    except services.ExperimentInvalid as exc:
        for key, message in exc.errors.items():
            form.add_error(key if key in form.fields else None, message)
    except services.BrokerUnavailable as exc:
        form.add_error(None, str(exc))
    return None
