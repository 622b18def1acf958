"""NAS-Bench-201 on the dashboard: table searches from the form, their regret data, benchmark figures of every
nb201 cell shown, the lookup API, and (in Chromium) the plots drawn from a finished table run.

The table is the synthetic one of tests/nb201_data.py, stored where the server looks (NASBOARD_BENCHMARK_DIR) by
the `table` fixture of conftest.py."""
from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client, override_settings

from nascore.spaces.nb201 import PUBLISHED
from tests.webapp.support import (
    TABLE_SEARCH_FORM,
    form_data,
    login,
    no_table,
    unsent_experiment,
)
from webapp.experiments import services
from webapp.experiments.models import Event, Experiment, Result, Status
from webapp.experiments.services import runs

pytestmark = pytest.mark.django_db

TABLE_RUN = {"space": "nb201", "optimizer": "re", "evaluator": "table", "dataset": "cifar10", "budget": 30, "runs": 3,
             "device": "cpu", "seed": 2}
ALL_SKIP = PUBLISHED["nb201_all_skip"]


# ---- the form and the rules -------------------------------------------------------------------------------------

def test_the_form_offers_table_search_and_says_whether_a_table_is_there(client: Client, alice: Any, table: Any) -> None:
    html = login(client, alice).get("/experiments/new").content.decode()
    assert 'id="blackbox-settings"' in html and 'name="evaluator"' in html and 'name="runs"' in html
    assert "tables imported on this server: nb201 cifar10" in html
    for name in ("re", "rs", "reinforce", "ls"):
        assert f'<option value="{name}"' in html
    with no_table():
        assert "no NAS-Bench-201 table is imported on this server" in client.get("/experiments/new").content.decode()


def test_the_form_launches_a_table_search(client: Client, alice: Any, table: Any) -> None:
    response = login(client, alice).post("/experiments/new", form_data(TABLE_SEARCH_FORM))
    exp = Experiment.objects.get()
    assert response.status_code == 302 and exp.status == Status.QUEUED
    assert exp.config["evaluator"] == "table" and exp.config["budget"] == 50 and exp.config["runs"] == 4
    assert "benchmark_dir" not in exp.config and "data_dir" not in exp.config


def test_the_form_explains_why_a_table_search_cannot_run(client: Client, alice: Any) -> None:
    with no_table():
        html = login(client, alice).post("/experiments/new", form_data(TABLE_SEARCH_FORM)).content.decode()
        assert "no NAS-Bench-201 table for cifar10" in html and "python -m nascore benchmark import" in html
        assert 'id="blackbox-settings" open' in html and not Experiment.objects.exists()
        html = client.post("/experiments/new", form_data(TABLE_SEARCH_FORM, optimizer="darts")).content.decode()
        assert "black-box method proposes" in html and not Experiment.objects.exists()


@override_settings(NASBOARD_MAX_TABLE_QUERIES=100)
def test_table_searches_have_a_server_limit_and_no_user_chosen_folder(table: Any) -> None:
    with pytest.raises(services.ExperimentInvalid) as exc:
        services.clean_config({**TABLE_RUN, "budget": 40, "runs": 3, "benchmark_dir": "/etc"})
    assert "at most 100 queries" in exc.value.errors["budget"]
    assert "set by the server" in exc.value.errors["benchmark_dir"]
    assert services.clean_config({**TABLE_RUN, "budget": 50, "runs": 2})["runs"] == 2


# ---- a table search run by the worker code ------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)  # the run's heartbeat thread has its own connection: it must see the row
def test_a_table_search_runs_and_its_page_has_the_regret_data(client: Client, alice: Any, table: Any) -> None:
    # never sent: a live worker of another test in this process would otherwise claim it first
    exp = unsent_experiment(alice, "re on the table", TABLE_RUN)
    assert runs.run_dispatched(exp.pk, exp.dispatch, "w@h") == Status.FINISHED
    exp.refresh_from_db()
    assert exp.epochs == 3 and exp.epochs_done == 3 and exp.steps_per_epoch == 30 and exp.device == "table"
    queries = [e.payload for e in Event.objects.filter(experiment=exp, type="query").order_by("seq")]
    assert len(queries) == 90 and {q["run"] for q in queries} == {1, 2, 3}
    assert all(q["test_acc"] == pytest.approx(table.test_acc(q["genotype"])) for q in queries)
    result = Result.objects.get(experiment=exp)
    assert result.genotype == result.raw["genotype"] and result.val_acc == pytest.approx(
        table.valid_acc(result.genotype) / 100)
    assert len(result.raw["blackbox"]["curves"]["valid_mean"]) == 30
    # the events API serves the queries to the live page
    data = login(client, alice).get(f"/api/experiments/{exp.pk}/events?after=0").json()
    assert sum(e["type"] == "query" for e in data["events"]) == 90
    html = client.get(f"/experiments/{exp.pk}/").content.decode()
    assert 'id="regret-plot"' in html and 'src="/static/js/experiment/main.js"' in html  # imports benchmark.js
    figures = table.query(result.genotype)
    assert f"validation {figures.valid_acc:.2f}%, test {figures.test_acc:.2f}%" in html
    config = json.loads(html.split('id="page-config" type="application/json">')[1].split("</script>")[0])
    assert config["benchmark"]["evaluator"] == "table" and config["benchmark"]["dataset"] == "cifar10"
    assert config["benchmark"]["optimum"]["valid_acc"] == pytest.approx(table.best().valid_acc)


def test_nb201_cells_of_any_search_show_their_benchmark_figures(client: Client, alice: Any, table: Any) -> None:
    config = {"space": "nb201", "optimizer": "darts", "dataset": "digits", "epochs": 2, "device": "cpu", "layers": 1}
    exp = services.create_experiment(alice, "darts on nb201", config)
    Experiment.objects.filter(pk=exp.pk).update(status=Status.FINISHED, epochs_done=2)
    Result.objects.create(experiment=exp, genotype=ALL_SKIP, val_acc=0.5, best_val_acc=0.5, epochs_completed=2)
    html = login(client, alice).get(f"/experiments/{exp.pk}/").content.decode()
    skip = table.query(ALL_SKIP)
    assert f"validation {skip.valid_acc:.2f}%, test {skip.test_acc:.2f}%" in html  # scored on the CIFAR-10 table
    config = json.loads(html.split('id="page-config" type="application/json">')[1].split("</script>")[0])
    assert config["benchmark"]["all_skip"]["valid_acc"] == pytest.approx(skip.valid_acc)
    assert config["benchmark"]["url"] == "/api/benchmark/nb201?dataset=cifar10"
    with no_table():
        html = client.get(f"/experiments/{exp.pk}/").content.decode()
    assert 'id="result-benchmark-row" class="row" hidden' in html and '"benchmark": null' in html
    darts = services.create_experiment(alice, "darts space", {"space": "s3", "dataset": "digits", "device": "cpu"})
    assert '"benchmark": null' in client.get(f"/experiments/{darts.pk}/").content.decode()


# ---- the lookup API -----------------------------------------------------------------------------------------------

def test_the_lookup_api_scores_cells_and_names_bad_ones(client: Client, alice: Any, table: Any) -> None:
    assert client.get("/api/benchmark/nb201?arch=x").status_code == 401
    login(client, alice)
    best = PUBLISHED["nb201_best"]
    data = client.get("/api/benchmark/nb201", {"dataset": "cifar10", "arch": [best, ALL_SKIP, "|nope|"]}).json()
    assert data["available"] and set(data["archs"]) == {best, ALL_SKIP}
    assert data["archs"][best]["valid_acc"] == pytest.approx(table.valid_acc(best))
    assert data["archs"][best]["test_acc"] == pytest.approx(table.test_acc(best))
    assert data["archs"][best]["valid_acc"] != data["archs"][best]["test_acc"]
    assert "expected 3 groups" in data["errors"]["|nope|"]
    assert client.get("/api/benchmark/nb201", {"dataset": "mnist"}).status_code == 400
    assert client.get("/api/benchmark/darts").status_code == 404
    assert client.get("/api/benchmark/nb201", {"arch": [best] * 201}).status_code == 400
    missing = client.get("/api/benchmark/nb201", {"dataset": "cifar100", "arch": best}).json()
    assert missing["available"] is False and "no NAS-Bench-201 table for cifar100" in missing["problem"]


# ---- in the browser ---------------------------------------------------------------------------------------------------



@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_page_draws_the_regret_plot_and_the_picked_cells_benchmark_accuracy(live_server: Any, page: Any,
                                                                               alice: Any, table: Any) -> None:
    from tests.webapp.browser_support import log_in

    run = unsent_experiment(alice, "re on the table", TABLE_RUN)
    assert runs.run_dispatched(run.pk, run.dispatch, "w@h") == Status.FINISHED
    darts = unsent_experiment(alice, "darts on nb201", {"space": "nb201", "optimizer": "darts",
                                                                  "dataset": "digits", "epochs": 2, "device": "cpu"})
    epochs = [(0, ALL_SKIP), (1, PUBLISHED["nb201_resnet"]), (2, PUBLISHED["nb201_best"])]
    for seq, (epoch, genotype) in enumerate(epochs, start=1):
        Event.objects.create(experiment=darts, seq=seq, type="genotype", payload={"type": "genotype", "epoch": epoch,
                                                                                  "genotype": genotype})
    Event.objects.create(experiment=darts, seq=4, type="epoch", payload={
        "type": "epoch", "epoch": 2, "epochs": 2, "train_loss": 1.0, "train_acc": 0.6, "val_loss": 1.1, "val_acc": 0.55,
        "lr": 0.01, "seconds": 1.0})
    Experiment.objects.filter(pk=darts.pk).update(status=Status.FINISHED, epochs_done=2, last_seq=4)
    log_in(page, live_server.url, "alice")

    page.goto(f"{live_server.url}/experiments/{run.pk}/")
    page.wait_for_function("() => document.getElementById('regret-plot').data && "
                           "document.getElementById('regret-plot').data.length === 5")
    assert page.is_visible("#blackbox") and "3 runs (seeds 2, 3, 4)" in page.text_content("#blackbox-summary")
    means = page.evaluate("() => document.getElementById('regret-plot').data[1].y")
    assert len(means) == 30 and means == sorted(means)  # the best so far never falls
    assert page.is_hidden("#benchmark-card")  # a table run's cells are the regret plot's

    page.goto(f"{live_server.url}/experiments/{darts.pk}/")
    page.wait_for_function("() => document.getElementById('benchmark-plot').data")
    valid = page.evaluate("() => document.getElementById('benchmark-plot').data[0].y")
    assert valid == pytest.approx([table.valid_acc(g) for _, g in epochs])
    assert page.is_hidden("#blackbox")
    assert f"test {table.test_acc(PUBLISHED['nb201_best']):.2f}%" in page.text_content("#benchmark-summary")

    # DARTS-ADA went back from epoch 2 to epoch 1: the cell picked at epoch 2 was undone and leaves the plot
    Event.objects.create(experiment=darts, seq=5, type="regularization_change", payload={
        "type": "regularization_change", "trigger_epoch": 2, "restored_epoch": 1, "parameter": "weight_decay",
        "old": 0.0003, "new": 0.0006, "increase": 1, "max_increases": 3, "reason": "DARTS-ADA went back"})
    Experiment.objects.filter(pk=darts.pk).update(last_seq=5)
    page.reload()
    page.wait_for_function("() => document.getElementById('benchmark-plot').data && "
                           "document.getElementById('benchmark-plot').data[0].x.length === 2")
    assert page.evaluate("() => document.getElementById('benchmark-plot').data[0].x") == [0, 1]
