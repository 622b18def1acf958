"""NAS-Bench-201 on the comparison page and the leaderboard: table figures of every compared nb201 cell (and in the
exports), regret curves of black-box table searches overlaid per experiment, and table searches with a budget in
simulated training seconds from the form.

The table is the synthetic one of tests/nb201_data.py, stored where the server looks (NASBOARD_BENCHMARK_DIR); table
runs are real runs of the engine whose events go into the database through the dashboard's own sink."""
from __future__ import annotations

import csv
import io
import json
import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings

from nascore.runner import run_search
from nascore.spaces.nb201 import PUBLISHED
from tests.webapp.compare_data import make_run
from tests.webapp.support import TABLE_SEARCH_FORM, form_data, no_table
from tests.webapp.test_compare_pages import cell, page_config
from webapp.experiments import services
from webapp.experiments.models import Event, Experiment, Result, Status
from webapp.experiments.services import runs

pytestmark = pytest.mark.django_db

BEST, ALL_SKIP = PUBLISHED["nb201_best"], PUBLISHED["nb201_all_skip"]


def nb201_search(owner: Any, name: str, genotype: str, dataset: str = "cifar10", **config: Any) -> Experiment:
    """A finished one-shot search on nb201 whose result is ``genotype`` (no events: the table figures need none)."""
    cfg = {"space": "nb201", "optimizer": "darts", "dataset": dataset, "epochs": 3, "seed": 0, "device": "cpu", **config}
    exp = Experiment.objects.create(owner=owner, name=name, config=cfg, space="nb201", optimizer="darts", dataset=dataset,
                                    seed=0, device_requested="cpu", queue="not-queued", status=Status.FINISHED,
                                    dispatch=1, epochs=3, epochs_done=3, best_val_acc=0.6, last_val_acc=0.6)
    Result.objects.create(experiment=exp, genotype=genotype, best_val_acc=0.6, val_acc=0.6, epochs_completed=3)
    return exp


def table_run(owner: Any, name: str, out: Path, **config: Any) -> Experiment:
    """A black-box search on the server's table, run by the engine, its events stored by the dashboard's sink."""
    cfg = {"space": "nb201", "optimizer": "re", "evaluator": "table", "dataset": "cifar10", "budget": 30, "runs": 3,
           "seed": 0, "device": "cpu", **config}
    exp = Experiment.objects.create(owner=owner, name=name, config=cfg, space="nb201", optimizer=cfg["optimizer"],
                                    dataset="cifar10", seed=cfg["seed"], device_requested="cpu", queue="not-queued",
                                    status=Status.RUNNING, dispatch=1)
    outcome = run_search({**cfg, "benchmark_dir": str(settings.NASBOARD_BENCHMARK_DIR)}, out / f"run-{exp.pk}",
                         sinks=[runs.DatabaseSink(exp.pk)])
    result = outcome.result
    Result.objects.create(experiment=exp, genotype=result["genotype"], val_acc=result["metrics"]["val_acc"],
                          best_val_acc=result["metrics"]["best_val_acc"], epochs_completed=cfg["runs"], raw=result)
    Experiment.objects.filter(pk=exp.pk).update(status=Status.FINISHED)
    return exp


def expected_runs(exp: Experiment) -> list[dict[str, Any]]:
    """The regret data of an experiment worked out from every one of its stored query events."""
    runs: dict[int, dict[str, Any]] = {}
    for q in Event.objects.filter(experiment=exp, type="query").order_by("seq").values_list("payload", flat=True):
        run = runs.setdefault(q["run"], {"run": q["run"], "seed": q["seed"], "n": 0, "end": None, "steps": []})
        if not run["steps"] or q["best_valid_acc"] > run["steps"][-1][2]:
            run["steps"].append([q["query"], q["elapsed"], q["best_valid_acc"], q["best_test_acc"]])
        run["n"], run["end"] = q["query"], q["elapsed"]
    return [runs[r] for r in sorted(runs)]


# ---- table figures in comparison rows, exports and the leaderboard -----------------------------------------------

def test_comparison_rows_and_exports_show_table_figures_with_the_dataset(client: Client, alice: Any, table: Any) -> None:
    best = nb201_search(alice, "found the best", BEST, epochs=3)
    skip = nb201_search(alice, "collapsed", ALL_SKIP, epochs=4)
    digits = nb201_search(alice, "on digits", BEST, dataset="digits")  # no table covers digits: not scored here
    darts = make_run(alice, "darts space")
    client.force_login(alice)
    ids = f"ids={best.pk},{skip.pk},{digits.pk},{darts.pk}"
    response = client.get(f"/compare/?{ids}")
    html = unescape(response.content.decode())
    assert "NAS-Bench-201 table · cifar10" in html and 'id="table-figures-note"' in html
    key_v, key_t = "nb201_cifar10_valid_acc", "nb201_cifar10_test_acc"
    fig_best, fig_skip = table.query(BEST), table.query(ALL_SKIP)
    assert cell(response, 0, key_v) == (f"{fig_best.valid_acc:.2f}%", fig_best.valid_acc > fig_skip.valid_acc)
    assert cell(response, 0, key_t)[0] == f"{fig_best.test_acc:.2f}%"
    assert cell(response, 1, key_v)[0] == f"{fig_skip.valid_acc:.2f}%"
    assert cell(response, 2, key_v) == ("–", False) and cell(response, 3, key_t) == ("–", False)
    assert f'data-key="{key_v}" data-table="cifar10"' in html

    rows = list(csv.DictReader(io.StringIO(client.get(f"/compare/export.csv?{ids}").content.decode())))
    assert [r["table_dataset"] for r in rows] == ["cifar10", "cifar10", "", ""]
    assert rows[0]["table"] == "NAS-Bench-201"
    assert float(rows[0]["table_valid_acc"]) == pytest.approx(fig_best.valid_acc / 100)
    assert float(rows[1]["table_test_acc"]) == pytest.approx(fig_skip.test_acc / 100)
    assert float(rows[1][f"group_{key_v}_mean"]) == pytest.approx(fig_skip.valid_acc / 100)
    assert rows[2]["table_valid_acc"] == "" and rows[3][f"group_{key_v}_mean"] == ""
    doc = json.loads(client.get(f"/compare/export.json?{ids}").content)
    columns = {c["key"]: c for c in doc["comparison"]["figure_columns"]}
    assert columns[key_v]["table_dataset"] == "cifar10" and "table_dataset" not in columns["best_val_acc"]
    assert "not measured by the run" in doc["comparison"]["table_figures"]
    assert doc["experiments"][0]["table_test_acc"] == pytest.approx(fig_best.test_acc / 100)

    with no_table():  # no table imported: no table columns at all
        response = client.get(f"/compare/?{ids}")
        header = client.get(f"/compare/export.csv?{ids}").content.decode().splitlines()[0].split(",")
        doc = json.loads(client.get(f"/compare/export.json?{ids}").content)
    assert "Table val acc" not in response.content.decode() and "table-figures-note" not in response.content.decode()
    assert not any(c.startswith("table") or "nb201_" in c for c in header)
    assert "table_figures" not in doc["comparison"] and "table_valid_acc" not in doc["experiments"][0]


def test_the_leaderboard_shows_table_figures_of_nb201_runs(client: Client, alice: Any, table: Any) -> None:
    nb201_search(alice, "found the best", BEST, epochs=3)
    nb201_search(alice, "collapsed", ALL_SKIP, epochs=4)
    client.force_login(alice)
    html = unescape(client.get("/leaderboard/?space=nb201&dataset=cifar10").content.decode())
    assert "Table val acc" in html and "NAS-Bench-201 table for cifar10" in html
    own = dict((re.search(r">#\d+ ([^<]+)</a>", row).group(1), row)
               for row in re.findall(r'<tr class="own">(.*?)</tr>', html, re.S))
    for name, arch in (("found the best", BEST), ("collapsed", ALL_SKIP)):
        fig = table.query(arch)
        assert f'data-key="table_valid_acc" data-table="cifar10">{fig.valid_acc:.2f}%' in own[name]
        assert f'data-key="table_test_acc" data-table="cifar10">{fig.test_acc:.2f}%' in own[name]
    published = re.findall(r'<tr class="published">(.*?)</tr>', html, re.S)
    assert len(published) == 8 and all('data-key="table_valid_acc" data-table="cifar10">–' in row for row in published)
    with no_table():
        assert "Table val acc" not in client.get("/leaderboard/?space=nb201&dataset=cifar10").content.decode()
    assert "Table val acc" not in client.get("/leaderboard/?space=darts&dataset=cifar10").content.decode()


# ---- regret curves of black-box table searches on the comparison page ---------------------------------------------

def test_the_comparison_overlays_regret_curves_of_table_searches(client: Client, alice: Any, table: Any,
                                                                tmp_path: Path) -> None:
    re_run = table_run(alice, "evolution", tmp_path, optimizer="re", budget=30)
    rs_run = table_run(alice, "random, timed", tmp_path, optimizer="rs", budget=9_000, budget_unit="seconds", seed=3)
    darts = make_run(alice, "not black-box")
    client.force_login(alice)
    response = client.get(f"/compare/?ids={re_run.pk},{darts.pk},{rs_run.pk}")
    html = unescape(response.content.decode())
    assert 'id="regret"' in html and 'id="regret-axis"' in html and 'src="/static/js/compare.js"' in html  # imports regret.js
    regret = page_config(response)["regret"]
    assert [i["id"] for i in regret["experiments"]] == [re_run.pk, rs_run.pk]
    first, second = regret["experiments"]
    assert (first["method"], first["unit"], first["budget"]) == ("Regularized Evolution", "queries", 30)
    assert (second["method"], second["unit"], second["budget"]) == ("random search", "seconds", 9_000)
    assert first["color"] != second["color"]
    assert first["runs"] == expected_runs(re_run) and second["runs"] == expected_runs(rs_run)
    assert [r["n"] for r in first["runs"]] == [30, 30, 30] and [r["seed"] for r in second["runs"]] == [3, 4, 5]
    assert all(9_000 <= r["end"] < 9_000 + 2_300 for r in second["runs"])  # a query costs 500 to 2,300 s here
    assert regret["seconds"] is True and regret["axis"] == "queries"  # mixed units: queries first, seconds offered
    assert regret["optimum"]["valid_acc"] == pytest.approx(table.best().valid_acc)
    # only time-budget runs: the seconds axis first
    alone = page_config(client.get(f"/compare/?ids={rs_run.pk},{darts.pk}"))["regret"]
    assert alone["axis"] == "seconds"
    # no black-box search compared: no regret section
    other = make_run(alice, "also not black-box", seed=1)
    response = client.get(f"/compare/?ids={darts.pk},{other.pk}")
    assert page_config(response)["regret"] is None and 'id="regret"' not in response.content.decode()


# ---- a budget in simulated seconds from the form ------------------------------------------------------------------

TIMED_TABLE_SEARCH_FORM = {**TABLE_SEARCH_FORM, "name": "timed table search", "budget": 200_000, "budget_unit": "seconds"}


def test_the_form_launches_a_table_search_with_a_budget_in_seconds(client: Client, alice: Any, table: Any) -> None:
    client.force_login(alice)
    html = client.get("/experiments/new").content.decode()
    assert 'name="budget_unit"' in html and '<option value="seconds"' in html and "Budget unit (table)" in html
    response = client.post("/experiments/new", form_data(TIMED_TABLE_SEARCH_FORM))
    exp = Experiment.objects.get()
    assert response.status_code == 302 and exp.config["budget_unit"] == "seconds" and exp.config["budget"] == 200_000
    response = client.post("/experiments/new", form_data(TIMED_TABLE_SEARCH_FORM, budget_unit="minutes"))
    html = unescape(response.content.decode())
    assert "Select a valid choice. minutes is not one of the available choices." in html
    response = client.post("/experiments/new", form_data(TIMED_TABLE_SEARCH_FORM, evaluator="train", runs=1))
    html = unescape(response.content.decode())
    assert "a budget in simulated seconds needs the table evaluator" in html
    assert Experiment.objects.count() == 1
    # an empty unit is the engine's default: queries
    client.post("/experiments/new", form_data(TIMED_TABLE_SEARCH_FORM, budget_unit="", budget=40, name="counted"))
    assert Experiment.objects.get(name="counted").config["budget_unit"] == "queries"


@override_settings(NASBOARD_MAX_TABLE_QUERIES=100)
def test_a_time_budget_counts_against_the_servers_query_limit_at_its_worst(table: Any) -> None:
    config = {"space": "nb201", "optimizer": "rs", "evaluator": "table", "dataset": "cifar10", "device": "cpu",
              "budget_unit": "seconds", "budget": 20_000}
    # the synthetic table's fastest cell trains in 500 simulated seconds: at most 40 queries per run
    with pytest.raises(services.ExperimentInvalid) as exc:
        services.clean_config({**config, "runs": 3})
    message = exc.value.errors["budget"]
    assert "at most 100 queries" in message and "up to 40 queries per run" in message and "= 120" in message
    assert services.clean_config({**config, "runs": 2})["budget_unit"] == "seconds"
    with pytest.raises(services.ExperimentInvalid) as exc:
        services.clean_config({**config, "runs": 1, "budget_unit": "hours"})
    assert "unknown budget_unit 'hours'; choose one of: queries, seconds" in exc.value.errors["budget_unit"]


# ---- in the browser -------------------------------------------------------------------------------------------------



@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_regret_curves_are_drawn_per_experiment_and_follow_the_budget_unit(live_server: Any, page: Any, alice: Any,
                                                                           table: Any, tmp_path: Path) -> None:
    from tests.webapp.browser_support import log_in

    re_run = table_run(alice, "evolution", tmp_path, optimizer="re", budget=30)
    rs_run = table_run(alice, "random, timed", tmp_path, optimizer="rs", budget=9_000, budget_unit="seconds", seed=3)
    log_in(page, live_server.url, "alice")

    page.goto(f"{live_server.url}/compare/?ids={re_run.pk},{rs_run.pk}")
    page.wait_for_function("() => window.nasboard.regretDrawn > 0")
    names = page.evaluate("() => document.getElementById('regret-valid').data.map((t) => t.name)")
    assert len(names) == 5  # per experiment a band and its mean line, then the table optimum
    assert names[1] == f"#{re_run.pk} evolution · Regularized Evolution (3 runs)" and "table optimum" in names[4]
    means = page.evaluate("() => document.getElementById('regret-valid').data[1].y")
    assert len(means) == 30 and means == sorted(means)  # the best so far never falls
    colors = page.evaluate("() => document.getElementById('regret-test').data.filter((t) => t.showlegend !== false)"
                           ".slice(0, 2).map((t) => t.line.color)")
    assert colors[0] != colors[1]
    assert page.locator("#regret-valid .g-xtitle").text_content() == "queries"
    page.select_option("#regret-axis", "seconds")
    page.wait_for_function("() => window.nasboard.regretDrawn > 1")
    assert page.locator("#regret-valid .g-xtitle").text_content() == "simulated training seconds"
    xs = page.evaluate("() => document.getElementById('regret-valid').data[3].x")
    assert max(xs) >= 9_000

    page.goto(f"{live_server.url}/experiments/{rs_run.pk}/")
    page.wait_for_function("() => document.getElementById('regret-plot').data && "
                           "document.getElementById('regret-plot').data.length === 5")
    assert page.locator("#regret-plot .g-xtitle").text_content() == "simulated training seconds"
    summary = page.text_content("#blackbox-summary")
    assert "3 runs (seeds 3, 4, 5)" in summary and "simulated training seconds: best validation" in summary
