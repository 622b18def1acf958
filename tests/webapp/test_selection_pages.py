"""Choosing the final architecture on the dashboard: the form's settings, the stored and served selection events,
the experiment page's progress and scatter-plot data."""
from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.webapp.support import SEARCH_FORM, form_data, unsent_experiment
from webapp.experiments.models import Event, Experiment, Result, Status
from webapp.experiments.services import runs

pytestmark = pytest.mark.django_db

GENOTYPES = [f"|{op}~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_3x3~2|"
             for op in ("nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3", "none")]


RSWS_FORM = {**SEARCH_FORM, "optimizer": "rsws"}  # a method with a selection stage


def block() -> dict[str, Any]:
    """A finished selection block: 5 sampled, the top 3 (one-shot ranks 1-3) retrained, candidate 2 kept."""
    accs = [(0.50, 0.58), (0.40, None), (0.45, 0.61), (0.30, None), (0.48, 0.55)]
    ranks = {0: 1, 4: 2, 2: 3, 1: 4, 3: 5}
    candidates = [{"index": i, "genotype": GENOTYPES[i], "source": "derived" if i == 0 else "sampled",
                   "oneshot_val_acc": one, "oneshot_val_loss": 2.0 - one, "oneshot_rank": ranks[i],
                   "retrained": alone is not None, "standalone_val_acc": alone,
                   "standalone_val_loss": None if alone is None else 1.5 - alone}
                  for i, (one, alone) in enumerate(accs)]
    return {"status": "finished", "samples": 5, "sampled": 5, "top_k": 3, "epochs": 2, "candidates": candidates,
            "kendall_tau": 1 / 3, "spearman": 0.5, "chosen": 2, "genotype": GENOTYPES[2], "search_genotype": GENOTYPES[0]}


def page_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="page-config" type="application/json">(.*?)</script>', html, re.S)
    assert match, "the page has no page-config"
    return json.loads(match.group(1))


def test_new_form_offers_the_selection_settings_with_engine_defaults(client: Client, alice: Any) -> None:
    from nascore.config import defaults

    client.force_login(alice)
    response = client.get("/experiments/new")
    form = response.context["form"]
    for key in ("select_samples", "select_top_k", "select_epochs"):
        assert form.fields[key].initial == defaults()[key], key
    html = response.content.decode()
    assert 'id="selection-settings"' in html and 'name="select_top_k"' in html and 'value="4"' in html
    assert "20 for enas, oneshot, rsws, spos, 0 for the others" in html


def test_form_takes_selection_settings_and_leaves_empty_ones_to_the_method(client: Client, alice: Any) -> None:
    client.force_login(alice)
    response = client.post("/experiments/new", form_data(RSWS_FORM, select_samples=6, select_top_k=3, select_epochs=1))
    assert response.status_code == 302
    cfg = Experiment.objects.get().config
    assert (cfg["select_samples"], cfg["select_top_k"], cfg["select_epochs"]) == (6, 3, 1)
    Experiment.objects.all().delete()
    assert client.post("/experiments/new", form_data(RSWS_FORM, select_samples="")).status_code == 302
    assert Experiment.objects.get().config["select_samples"] is None  # the method's default (20 for rsws)


def test_form_rejects_bad_selection_settings_with_engine_messages(client: Client, alice: Any) -> None:
    client.force_login(alice)
    response = client.post("/experiments/new", form_data(RSWS_FORM, select_top_k=1, select_epochs=0))
    errors = response.context["form"].errors
    assert set(errors) == {"select_top_k", "select_epochs"}
    assert "at least 2" in errors["select_top_k"][0] and "positive integer" in errors["select_epochs"][0]
    assert 'id="selection-settings" open>' in response.content.decode()
    response = client.post("/experiments/new", form_data(RSWS_FORM, select_samples=3, select_top_k=5))
    assert "must not exceed select_samples (3)" in response.context["form"].errors["select_top_k"][0]
    assert Experiment.objects.count() == 0


def test_finished_experiment_renders_the_scatter_plot_data(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = unsent_experiment(alice, "sel", {**tiny_config, "optimizer": "rsws"}, Status.FINISHED)
    Result.objects.create(experiment=exp, genotype=GENOTYPES[2], epochs_completed=3,
                          raw={"selection": block(), "search_genotype": GENOTYPES[0], "genotype": GENOTYPES[2]})
    client.force_login(alice)
    html = client.get(f"/experiments/{exp.pk}/").content.decode()
    assert '<section class="card" id="selection">' in html  # shown
    assert ("Kendall τ +0.33 · Spearman ρ +0.50 over the 3 retrained of 5 sampled · kept candidate 2 "
            "(one-shot rank 3, stand-alone val acc 61.00%)") in html
    assert "low rank correlation" in html and "misleads" in html
    data = page_config(html)["selection"]
    assert data["shown"] is True and data["block"]["chosen"] == 2 and data["block"]["kendall_tau"] == pytest.approx(1 / 3)
    retrained = [(c["oneshot_val_acc"], c["standalone_val_acc"]) for c in data["block"]["candidates"] if c["retrained"]]
    assert retrained == [(0.50, 0.58), (0.45, 0.61), (0.48, 0.55)]
    api = client.get(f"/api/experiments/{exp.pk}").json()["result"]
    assert api["selection"]["chosen"] == 2 and api["search_genotype"] == GENOTYPES[0]


def test_page_without_a_selection_stage_hides_the_section(client: Client, alice: Any, tiny_config: dict[str, Any]) -> None:
    exp = unsent_experiment(alice, "sel", {**tiny_config, "optimizer": "darts"}, Status.FINISHED)
    Result.objects.create(experiment=exp, genotype=GENOTYPES[0], epochs_completed=3, raw={})
    client.force_login(alice)
    html = client.get(f"/experiments/{exp.pk}/").content.decode()
    assert '<section class="card" id="selection" hidden>' in html
    selection = page_config(html)["selection"]
    assert (selection["shown"], selection["block"], selection["title"]) == (False, None, "")


def test_selection_events_are_stored_served_and_shown_as_progress(client: Client, alice: Any,
                                                                  tiny_config: dict[str, Any]) -> None:
    exp = unsent_experiment(alice, "sel", {**tiny_config, "optimizer": "rsws", "select_samples": 5, "select_top_k": 3},
                            Status.RUNNING)
    sink = runs.DatabaseSink(exp.pk)
    common = {"v": 1, "time": time.time(), "type": "selection", "total": 11, "samples": 5, "top_k": 3, "epochs": 2}
    sink(1, {**common, "phase": "start", "done": 0})
    sink(2, {**common, "phase": "rank", "done": 1, "index": 0,
             "candidate": {"index": 0, "genotype": GENOTYPES[0], "oneshot_val_acc": 0.5, "oneshot_val_loss": float("nan")}})
    sink(3, {**common, "phase": "rank", "done": 2, "index": 1, "candidate": {"index": 1, "oneshot_val_acc": 0.4}})
    assert list(Event.objects.filter(experiment=exp).values_list("type", flat=True)) == ["selection"] * 3
    client.force_login(alice)
    events = client.get(f"/api/experiments/{exp.pk}/events?after=1").json()["events"]
    assert [(e["seq"], e["type"], e["phase"], e["done"]) for e in events] == [(2, "selection", "rank", 1),
                                                                             (3, "selection", "rank", 2)]
    assert events[0]["candidate"]["oneshot_val_loss"] is None  # NaN stored as null
    html = client.get(f"/experiments/{exp.pk}/").content.decode()
    assert "ranking with the one-shot weights: 2 of 5" in html and 'style="width: 18.2%"' in html


@pytest.fixture
def one_torch_thread() -> Any:
    """A tiny network runs faster on one thread, and the machine's cores are shared."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_a_real_run_stores_its_selection_and_the_page_plots_it(client: Client, alice: Any, tmp_path: Any,
                                                               one_torch_thread: None) -> None:
    """The engine's own events and result block go through the database sink and come back on the page and the API."""
    from nascore.runner import run_search

    config = {"space": "s3", "dataset": "digits", "epochs": 1, "channels": 4, "layers": 3, "batch_size": 64,
              "steps_per_epoch": 3, "device": "cpu", "seed": 5, "curvature_every": 0, "derive_samples": 2,
              "train_portion": 0.8, "optimizer": "rsws", "select_samples": 3, "select_top_k": 2, "select_epochs": 1}
    exp = unsent_experiment(alice, "sel", config, Status.RUNNING)
    outcome = run_search({**exp.config, "data_dir": str(settings.NASBOARD_DATA_DIR)}, tmp_path,
                         sinks=[runs.DatabaseSink(exp.pk)])
    runs._save_result(exp, outcome.result, tmp_path)
    Experiment.objects.filter(pk=exp.pk).update(status=Status.FINISHED)
    client.force_login(alice)
    events = client.get(f"/api/experiments/{exp.pk}/events?after=0").json()["events"]
    phases = [e["phase"] for e in events if e["type"] == "selection"]
    assert phases == ["start", "rank", "rank", "rank", "retrain", "retrain", "done"]
    done = next(e for e in events if e["type"] == "selection" and e["phase"] == "done")
    data = page_config(client.get(f"/experiments/{exp.pk}/").content.decode())["selection"]
    assert data["block"]["chosen"] == done["chosen"] and data["block"]["genotype"] == done["genotype"]
    assert sum(c["retrained"] for c in data["block"]["candidates"]) == 2
    assert Result.objects.get(experiment=exp).genotype == done["genotype"]
