"""Experiments stored before the settings models (their config in the flat form of that time, without the settings
added since) still show, validate, resume and start a new run."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.webapp.support import login
from webapp.experiments import services
from webapp.experiments.models import Experiment, Status

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "before_settings_models" / "finished_result.json"


def _stored(alice: Any) -> Experiment:
    """A row as the web app stored it then: the config less the server's folders."""
    config = {k: v for k, v in json.loads(FIXTURE.read_text())["config"].items()
              if k not in services.SERVER_FIELDS}
    assert "relaxation" not in config and "reinforce_baseline_decay" not in config  # settings added since
    return Experiment.objects.create(owner=alice, name="from before", config=config, space=config["space"],
                                     optimizer=config["optimizer"], dataset=config["dataset"], seed=config["seed"],
                                     device_requested=config["device"], queue="not-sent", epochs=config["epochs"],
                                     status=Status.CANCELLED, dispatch=1)


def test_an_experiment_stored_before_validates_shows_and_starts_again(client: Client, alice: Any) -> None:
    exp = _stored(alice)
    cleaned = services.clean_config(exp.config)
    assert {k: cleaned[k] for k in exp.config} == exp.config  # every stored setting keeps its value
    assert cleaned["relaxation"] is None  # a setting added since: the preset's, as the run had
    login(client, alice)
    assert client.get(f"/experiments/{exp.pk}/").status_code == 200
    assert client.get(f"/api/experiments/{exp.pk}").json()["config"] == exp.config
    form = client.get(f"/experiments/new?from={exp.pk}").context["form"]
    assert form.fields["epochs"].initial == 3 and form.fields["channels"].initial == 4
    assert form.fields["name"].initial == "from before (again)"
