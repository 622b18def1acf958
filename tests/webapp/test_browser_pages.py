"""Every page in headless Chromium after the move to ES modules: each one's scripts run (what they draw is there),
with no console error (the ``page`` fixture fails the test on any), no ``window.NAS*`` global, only the one test hook
(``window.nasboard``), and every local script a module but the vendored Plotly bundle (a UMD script, read through
static/js/plotly.js)."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.webapp.browser_support import log_in
from tests.webapp.compare_data import make_retrain, make_run
from tests.webapp.study_data import close_optuna_connections, make_study
from tests.webapp.support import unsent_experiment
from tests.webapp.test_browser_heatmap import finished_search
from webapp.experiments.models import Experiment, Status
from webapp.experiments.services import runs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

#: what the page's scripts leave on window, and how each script tag loads
SCRIPTS = """(() => ({
  globals: Object.keys(window).filter((k) => /^NAS/.test(k) || (/^nasboard/i.test(k) && k !== "nasboard")),
  classic: [...document.scripts].filter((s) => s.src && s.type !== "module" && new URL(s.src).origin === location.origin)
    .map((s) => new URL(s.src).pathname),
  inline: [...document.scripts].filter((s) => !s.src && s.type !== "application/json").map((s) => s.type || "script"),
  modules: [...document.scripts].filter((s) => s.type === "module" && s.src).map((s) => new URL(s.src).pathname),
}))()"""
#: plotly.js, full (the study page) or our scatter and heatmap build (the live and comparison pages)
PLOTLY = {"/static/vendor/plotly.min.js", "/static/vendor/plotly-scatter-heatmap/plotly-scatter-heatmap.min.js"}
#: the API docs page is django-ninja's Swagger UI: its bundle is not ours to convert
NINJA = "/static/ninja/"


def running_search(owner: Any, config: dict[str, Any]) -> Experiment:
    """A running search with a step, an epoch and a distribution, its heartbeat ahead so that no reaper ends it."""
    exp = unsent_experiment(owner, "running now", config, Status.RUNNING)
    sink = runs.DatabaseSink(exp.pk)
    now = time.time()
    sink(1, {"type": "run_started", "v": 1, "time": now, "epochs": 3, "steps_per_epoch": 4, "device": "cpu", "start_epoch": 0})
    sink(2, {"type": "step", "v": 1, "time": now, "epoch": 1, "step": 1, "steps_per_epoch": 4, "train_loss": 2.0, "train_acc": 0.2})
    sink(3, {"type": "epoch", "v": 1, "time": now, "epoch": 1, "epochs": 3, "train_loss": 1.9, "train_acc": 0.25,
             "val_loss": 2.0, "val_acc": 0.2, "lr": 0.02, "seconds": 1.0})
    cells = {"normal": {"edges": ["0→2", "1→2"], "ops": ["none", "skip_connect"], "weights": [[0.4, 0.6], [0.7, 0.3]],
                        "alphas": [[0.0, 0.405465], [0.847298, 0.0]]}}
    sink(4, {"type": "arch", "v": 1, "time": now, "epoch": 1, "kind": "softmax", "cells": cells})
    Experiment.objects.filter(pk=exp.pk).update(heartbeat_at=timezone.now() + timedelta(hours=1))
    return exp


def test_every_page_loads_modules_only(live_server: Any, page: Any, alice: Any, tiny_config: dict[str, Any]) -> None:
    base = live_server.url
    finished = finished_search(alice, "finished search")
    other = make_run(alice, "another search", seed=1, val_accs=(0.5, 0.7, 0.8))
    retrain = make_retrain(finished, test_acc=0.9)
    live = running_search(alice, tiny_config)
    study = make_study(alice, "a study", run=2, pruner="none", trials=2, status=Status.FINISHED)
    second = make_study(alice, "another study", run=1, sampler="random", pruner="none", trials=2, status=Status.FINISHED)
    close_optuna_connections()
    log_in(page, base, "alice")

    # each page, and what its modules draw or set up (proof that they ran)
    pages = [
        ("/", "document.getElementById('compare-count').textContent.includes('tick two')"),
        ("/?kind=study", "document.querySelector('.curation-flags button') !== null"),
        ("/experiments/new", "[...document.querySelectorAll('details[data-methods]')].some((d) => d.hidden)"),
        (f"/experiments/{finished.pk}/", "window.nasboard.stopped && !!document.querySelector('#heatmap-normal .main-svg')"),
        (f"/experiments/{live.pk}/", "window.nasboard.loaded && !window.nasboard.stopped"
                                     " && !!document.querySelector('#curve-loss .main-svg')"),
        (f"/experiments/{retrain.pk}/", "window.nasboard.stopped && !!document.querySelector('#cells svg')"),
        (f"/compare/?ids={finished.pk},{other.pk}", "window.nasboard.drawn > 0 && !!document.querySelector('#curve-val_acc .main-svg')"),
        ("/experiments/studies/new", "true"),
        (f"/experiments/{study.pk}/", "!!document.querySelector('#fig-history .main-svg')"),
        (f"/compare/?ids={study.pk},{second.pk}", "!!document.querySelector('#study-scatter .main-svg')"),
        ("/spaces/", "true"),
        ("/datasets/", "true"),
        ("/leaderboard/", "true"),
        ("/api/docs", "!!document.querySelector('.opblock')"),
    ]
    with_modules = set()
    for path, ran in pages:
        page.goto(base + path)
        page.wait_for_function(ran)
        found = page.evaluate(SCRIPTS)
        assert found["globals"] == [], (path, found["globals"])
        assert all(src in PLOTLY or src.startswith(NINJA) for src in found["classic"]), (path, found["classic"])
        assert found["inline"] == [] or path == "/api/docs", (path, found["inline"])
        if PLOTLY & set(found["classic"]):
            assert found["modules"], path  # Plotly only ever serves modules
        if found["modules"]:
            with_modules.add(path)
    assert {"/", "/experiments/new", f"/experiments/{finished.pk}/", f"/experiments/{live.pk}/",
            f"/experiments/{retrain.pk}/", f"/experiments/{study.pk}/"} <= with_modules
