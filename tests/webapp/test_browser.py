"""Headless Chromium (Debian's, driven by Playwright) against a live server and a real worker."""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable

import pytest

from tests.webapp.browser_support import DRAWN_TRACES, log_in
from tests.webapp.support import unsent_experiment
from webapp.experiments import services
from webapp.experiments.models import Experiment, Status
from webapp.experiments.services import runs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_launch_from_form_and_watch_it_live(shared_worker: Any, live_server: Any, page: Any, alice: Any) -> None:
    base = live_server.url
    log_in(page, base, "alice")
    page.click("text=New experiment")
    page.fill("#id_name", "from the browser")
    page.select_option("#id_space", "s3")
    page.select_option("#id_dataset", "digits")
    page.fill("#id_epochs", "4")
    page.fill("#id_batch_size", "32")
    page.select_option("#id_device", "cpu")
    page.click("#search-space-settings summary")
    page.fill("#id_channels", "4")
    page.fill("#id_layers", "3")
    page.click("#run-settings summary")
    page.fill("#id_steps_per_epoch", "6")
    page.click("#robust-settings summary")
    page.fill("#id_curvature_every", "1")
    page.select_option("#id_early_stop", "es")  # window 5: it cannot trigger in 4 epochs
    page.click("button:has-text('Launch')")
    page.wait_for_url("**/experiments/*/")
    exp = Experiment.objects.get(name="from the browser")
    assert exp.owner == alice and exp.config["epochs"] == 4
    assert exp.config["curvature_every"] == 1 and exp.config["early_stop"] == "es"

    # curves, heatmaps (both cell types) and the cell graph appear while it runs
    page.wait_for_function("window.nasboard.epochs.length >= 1", timeout=180_000)
    page.wait_for_selector("#curve-loss .main-svg")
    page.wait_for_selector("#curve-acc .main-svg")
    page.wait_for_selector("#heatmap-normal .main-svg")
    page.wait_for_selector("#heatmap-reduce .main-svg")
    assert page.locator("#cells svg .edge-label").count() > 0
    # the engine's curvature points and the picked cells' skip counts, drawn as they come
    page.wait_for_selector("#curve-eigen .main-svg")
    page.wait_for_selector("#curve-collapse .main-svg")
    first_title = page.text_content("#heatmap-normal .gtitle")
    # zoom in on the loss curve; live redraws must keep it
    page.evaluate("Plotly.relayout('curve-loss', {'xaxis.range': [0.1, 0.9]})")
    seen = page.evaluate("window.nasboard.epochs.length")
    page.wait_for_function(f"window.nasboard.epochs.length > {seen}", timeout=120_000)
    page.wait_for_function("!document.querySelector('#heatmap-normal .gtitle').textContent.includes(%r)" % first_title.split(",")[-1].strip())
    assert page.evaluate("document.getElementById('curve-loss').layout.xaxis.range") == [0.1, 0.9]

    # it ends: polling stops, the result shows, the slider replays every epoch
    page.wait_for_function("window.nasboard.stopped", timeout=180_000)
    assert page.text_content("#status").strip() == "Finished"
    page.wait_for_selector("#result:not([hidden])")
    assert page.locator("#cancel-form").is_hidden()
    assert page.evaluate("document.getElementById('epoch-slider').max") == "4"  # epochs 0..4
    page.fill("#epoch-slider", "0")
    page.wait_for_function("document.querySelector('#heatmap-normal .gtitle').textContent.includes('epoch 0')")
    assert "epoch 0" in page.text_content("#cells h3")
    assert page.locator("#log li").count() >= 10
    polls = page.evaluate("window.nasboard.polls")
    page.wait_for_timeout(1500)
    assert page.evaluate("window.nasboard.polls") == polls  # no more polling after the end
    lat = page.evaluate("window.nasboard.latencies")
    assert lat and statistics.median(lat) < 2.0, lat
    print(f"\nemit-to-browser delay over {len(lat)} events: median {statistics.median(lat):.3f}s, max {max(lat):.3f}s")

    page.click("text=Experiments")
    assert "from the browser" in page.text_content("table.experiments")


def test_cancel_from_the_page(shared_worker: Any, live_server: Any, page: Any, alice: Any, tiny_config: dict[str, Any],
                              wait_for: Callable[..., Any]) -> None:
    exp = services.create_experiment(alice, "cancel me", {**tiny_config, "epochs": 40, "steps_per_epoch": 30, "step_log_every": 1})
    base = live_server.url
    log_in(page, base, "alice")
    page.goto(f"{base}/experiments/{exp.pk}/")
    page.wait_for_function("document.getElementById('progress-text').textContent.includes('step')", timeout=180_000)
    page.click("#cancel-button")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Cancelled')", timeout=60_000)
    assert page.locator("#resume-form").is_visible()
    assert page.locator("#cancel-form").is_hidden()
    assert Experiment.objects.get(pk=exp.pk).status == Status.CANCELLED


def test_every_page_without_console_errors(live_server: Any, page: Any, alice: Any, make_user: Any, tiny_config: dict[str, Any]) -> None:
    base = live_server.url
    exp = services.create_experiment(alice, "queued one", tiny_config)
    log_in(page, base, "alice")
    for path in ("/", "/?q=queued&sort=-acc", "/experiments/new", f"/experiments/{exp.pk}/", "/api/openapi.json"):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
    # a bad form shows its messages
    page.goto(f"{base}/experiments/new")
    page.fill("#id_epochs", "0")
    page.click("button:has-text('Launch')")
    assert "positive integer" in page.text_content("#error-epochs")
    # the admin, as staff
    make_user("staff", staff=True)
    from django.contrib.auth import get_user_model

    get_user_model().objects.filter(username="staff").update(is_superuser=True)
    page.click("text=Log out")
    log_in(page, base, "staff")
    for path in ("/admin/", "/admin/experiments/experiment/", f"/admin/experiments/experiment/{exp.pk}/change/",
                 "/admin/experiments/result/", "/admin/experiments/event/", "/admin/experiments/apitoken/"):
        page.goto(base + path)
        page.wait_for_load_state("networkidle")
        assert "Server Error" not in page.content()


# ---- RobustDARTS: the eigenvalue and collapse charts, drawn from stored events ---------------
DARTS_OPS = ["none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3"]
DARTS_EDGES = [f"{src}→{dst}" for dst in range(2, 6) for src in range(dst)]


def _darts_genotype(skips: int) -> dict[str, Any]:
    """A DARTS genotype whose normal cell has ``skips`` skip connections (out of 8) and whose reduce cell has one pool."""
    normal = [["skip_connect" if i < skips else "sep_conv_3x3", i % 2] for i in range(8)]
    reduce = [["max_pool_3x3", 0]] + [["sep_conv_3x3", 1]] * 7
    return {"normal": normal, "normal_concat": [2, 3, 4, 5], "reduce": reduce, "reduce_concat": [2, 3, 4, 5]}


def _cells(names: tuple[str, ...], edges: list[str], ops: list[str]) -> dict[str, Any]:
    row = [round(1 / len(ops), 3)] * len(ops)
    return {name: {"edges": edges, "ops": ops, "weights": [row for _ in edges]} for name in names}


def _emit_epoch(sink: Any, seq: int, epoch: int, epochs: int, kind: str, cells: dict[str, Any], genotype: Any,
                eigenvalue: float | None, counts: dict[str, Any] | None = None, round_: int = 0,
                ratio: float | None = None) -> int:
    """One epoch's events as the engine writes them; ``ratio``: the early-stop criterion its curvature event carries."""
    now = time.time()
    sink(seq, {"type": "epoch", "v": 1, "time": now, "epoch": epoch, "epochs": epochs, "train_loss": 2.0 - 0.1 * epoch,
               "train_acc": 0.1 * epoch, "val_loss": 2.1 - 0.1 * epoch, "val_acc": 0.08 * epoch, "lr": 0.02, "seconds": 1.0})
    sink(seq + 1, {"type": "arch", "v": 1, "time": now, "epoch": epoch, "kind": kind, "cells": cells})
    sink(seq + 2, {"type": "genotype", "v": 1, "time": now, "epoch": epoch, "genotype": genotype, **(counts or {})})
    if eigenvalue is None:
        return seq + 3
    sink(seq + 3, {"type": "curvature", "v": 1, "time": now, "epoch": epoch, "eigenvalue": eigenvalue, "trace": 8 * eigenvalue,
                   "round": round_, "method": "lanczos", "iterations": 8, "hvps": 12, "converged": True, "samples": 64, "seconds": 0.5,
                   "ratio": ratio})
    return seq + 4


def test_curvature_and_collapse_charts_live(live_server: Any, page: Any, alice: Any, tiny_config: dict[str, Any]) -> None:
    """DARTS-ES: the eigenvalue curve, the ratio against the threshold, the window, trigger and returned epoch, and the
    skip-connection counts, drawn while events arrive, zoom kept, then the stopped-early status with its reason."""
    from datetime import timedelta

    from django.utils import timezone

    exp = unsent_experiment(alice, "robust live", {**tiny_config, "epochs": 6, "early_stop": "es", "early_stop_window": 2},
                            Status.RUNNING)
    sink = runs.DatabaseSink(exp.pk)
    sink(1, {"type": "run_started", "v": 1, "time": time.time(), "epochs": 6, "steps_per_epoch": 4, "device": "cpu", "start_epoch": 0})
    cells = _cells(("normal", "reduce"), DARTS_EDGES, DARTS_OPS)
    seq = 2
    for epoch, eig in ((1, 0.10), (2, 0.11), (3, 0.12)):  # counts computed by the page from the genotype
        seq = _emit_epoch(sink, seq, epoch, 6, "softmax", cells, _darts_genotype(epoch), eig)
    # the sink stamps the heartbeat: move it into the future, so that no worker's reaper takes the run for lost
    Experiment.objects.filter(pk=exp.pk).update(heartbeat_at=timezone.now() + timedelta(hours=1))
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/experiments/{exp.pk}/")
    page.wait_for_selector("#curve-eigen .main-svg")
    page.wait_for_selector("#curve-collapse .main-svg")
    assert "softmax weights" in page.text_content("#heatmap-normal .gtitle")
    assert page.text_content("#arch-title") == "Architecture distribution: softmax weights"
    names = page.evaluate("document.getElementById('curve-eigen').data.map((t) => t.name)")
    assert names[:2] == ["dominant eigenvalue", "trace (Hutchinson, right axis)"] and "earlier / later" in names
    assert page.evaluate("document.getElementById('curve-eigen').data[1].yaxis") == "y2"
    collapse = page.evaluate("document.getElementById('curve-collapse').data.map((t) => [t.name, t.y])")
    assert collapse == [["normal: skip connections", [1, 2, 3]], ["normal: parameter-free ops", [1, 2, 3]],
                        ["reduce: skip connections", [0, 0, 0]], ["reduce: parameter-free ops", [1, 1, 1]]]
    assert "3 curvature points" in page.text_content("#curvature-summary")
    page.evaluate("Plotly.relayout('curve-eigen', {'xaxis.range': [0.5, 3.5]})")

    # epoch 4 arrives with the engine's own counts, the eigenvalue jumps, DARTS-ES stops and returns epoch 2
    seq = _emit_epoch(sink, seq, 4, 6, "softmax", cells, _darts_genotype(6), 0.40,
                      {"skip_connections": {"normal": 6, "reduce": 0}, "parameter_free": {"normal": 6, "reduce": 1}},
                      ratio=0.105 / 0.26)  # k = 2: mean(0.10, 0.11) / mean(0.12, 0.40)
    reason = ("DARTS-ES stopped the search after epoch 4 of 6 and returns the architecture of epoch 2, 2 curvature points "
              "before: the curvature of the validation loss grew.")
    sink(seq, {"type": "early_stop", "v": 1, "time": time.time(), "trigger_epoch": 4, "returned_epoch": 2, "earlier": 0.105,
               "later": 0.26, "ratio": 0.4038, "window": 2, "threshold": 0.75, "reason": reason, "genotype": _darts_genotype(2)})
    sink(seq + 1, {"type": "finished", "v": 1, "time": time.time(), "status": "stopped_early", "epoch": 4, "result": {}})
    Experiment.objects.filter(pk=exp.pk).update(status=Status.STOPPED_EARLY, stop_reason=reason, ended_at=timezone.now())
    page.wait_for_function("window.nasboard.stopped", timeout=30_000)
    assert page.text_content("#status").strip() == "Stopped early"
    assert page.locator("#stopped-early").is_visible() and reason in page.text_content("#stopped-early")
    assert "returns the architecture of epoch 2" in page.text_content("#progress-text")
    eigen = page.evaluate("""(() => { const d = document.getElementById('curve-eigen');
        return {names: d.data.map((t) => t.name), x: d.data[0].x, ratio: d.data.find((t) => t.name === 'earlier / later'),
                rects: d.layout.shapes.filter((s) => s.type === 'rect').map((s) => [s.x0, s.x1]),
                threshold: d.layout.shapes.filter((s) => s.yref === 'y3').map((s) => s.y0),
                range: d.layout.xaxis.range}; })()""")
    assert eigen["x"] == [1, 2, 3, 4]
    assert "trigger (epoch 4, ratio 0.404)" in eigen["names"] and "returned architecture (epoch 2)" in eigen["names"]
    assert eigen["rects"] == [[0.5, 2.5], [2.5, 4.5]]  # the k=2 points before the last 2, and the last 2
    assert eigen["threshold"] == [0.75]
    assert eigen["ratio"]["x"] == [4] and abs(eigen["ratio"]["y"][-1] - 0.105 / 0.26) < 1e-9
    assert eigen["range"] == [0.5, 3.5]  # the live redraws kept the zoom
    assert page.evaluate("document.getElementById('curve-collapse').data[0].y") == [1, 2, 3, 6]
    assert "stopped early" in page.text_content("#log")
    # the live page loads our scatter and heatmap build of plotly.js: every trace it drew is one that build registers
    drawn = page.evaluate(DRAWN_TRACES)
    assert drawn["types"] == ["heatmap", "scatter"] and drawn["unknown"] == []
    assert [src.rsplit("/", 1)[-1] for src in drawn["bundle"]] == ["plotly-scatter-heatmap.min.js"]


def test_ada_changes_and_nb201_counts_on_a_finished_run(live_server: Any, page: Any, alice: Any, tiny_config: dict[str, Any]) -> None:
    """DARTS-ADA on NAS-Bench-201: the rollback marked, its discarded points kept apart, skip counts from the string genotype."""
    exp = unsent_experiment(alice, "ada done", {**tiny_config, "space": "nb201", "optimizer": "drnas", "epochs": 3,
                                                "early_stop": "ada", "early_stop_window": 1}, Status.FINISHED)
    sink = runs.DatabaseSink(exp.pk)
    sink(1, {"type": "run_started", "v": 1, "time": time.time(), "epochs": 3, "steps_per_epoch": 4, "device": "cpu", "start_epoch": 0})
    nb201_ops = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
    edges = ["0→1", "0→2", "1→2", "0→3", "1→3", "2→3"]
    cells = _cells(("cell",), edges, nb201_ops)
    plain = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    collapsed = "|skip_connect~0|+|skip_connect~0|none~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|"
    seq = _emit_epoch(sink, 2, 1, 3, "dirichlet", cells, plain, 0.1)
    seq = _emit_epoch(sink, seq, 2, 3, "dirichlet", cells, collapsed, 0.3, ratio=0.1 / 0.3)
    reason = "DARTS-ADA went back from epoch 2 to epoch 1 and multiplied the weight decay by 3, from 0.0003 to 0.0009"
    sink(seq, {"type": "regularization_change", "v": 1, "time": time.time(), "trigger_epoch": 2, "restored_epoch": 1,
               "parameter": "weight_decay", "old": 3e-4, "new": 9e-4, "increase": 1, "max_increases": 4, "earlier": 0.1,
               "later": 0.3, "ratio": 0.333, "reason": reason})
    sink(seq + 1, {"type": "arch", "v": 1, "time": time.time(), "epoch": 1, "kind": "dirichlet", "cells": cells})
    sink(seq + 2, {"type": "genotype", "v": 1, "time": time.time(), "epoch": 1, "genotype": plain})
    seq = _emit_epoch(sink, seq + 3, 2, 3, "dirichlet", cells, plain, 0.12, round_=1)  # measured after the change
    seq = _emit_epoch(sink, seq, 3, 3, "dirichlet", cells, collapsed, 0.13, round_=1, ratio=0.12 / 0.13)
    sink(seq, {"type": "finished", "v": 1, "time": time.time(), "status": "finished", "epoch": 3, "result": {}})
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/experiments/{exp.pk}/")
    page.wait_for_function("window.nasboard.stopped", timeout=30_000)
    page.wait_for_selector("#curve-eigen .main-svg")
    page.wait_for_selector("#curve-collapse .main-svg")
    assert "Dirichlet means" in page.text_content("#heatmap-cell .gtitle")
    eigen = page.evaluate("""(() => { const d = document.getElementById('curve-eigen');
        return {traces: d.data.map((t) => [t.name, t.x]), lines: d.layout.shapes.filter((s) => s.type === 'line' && s.xref === 'x').map((s) => s.x0),
                notes: d.layout.annotations.map((a) => a.text)}; })()""")
    assert ["dominant eigenvalue", [1, 2, 3]] in eigen["traces"]
    assert ["rolled back (DARTS-ADA)", [2]] in eigen["traces"]
    assert eigen["lines"] == [2] and "ADA 1: wd 0.0003→0.0009, back to 1" in eigen["notes"]
    # earlier/later only within a round: the first point after the change has no earlier one to compare with
    assert ["earlier / later", [3]] in eigen["traces"]
    assert page.locator("#reg-changes li").count() == 1 and reason in page.text_content("#reg-changes")
    # counted by the page from the NAS-Bench-201 strings; the first collapsed epoch 2 was rolled back
    collapse = page.evaluate("document.getElementById('curve-collapse').data.map((t) => [t.name, t.x, t.y])")
    assert collapse == [["cell: skip connections", [1, 2, 3], [1, 1, 3]], ["cell: parameter-free ops", [1, 2, 3], [1, 1, 5]]]
    assert page.text_content("#status").strip() == "Finished"


# ---- choosing the final architecture: progress while it runs, then the one-shot vs stand-alone scatter ----------
def test_selection_progress_and_scatter_plot(live_server: Any, page: Any, alice: Any, tiny_config: dict[str, Any]) -> None:
    from datetime import timedelta

    from django.utils import timezone

    exp = unsent_experiment(alice, "select live", {**tiny_config, "optimizer": "rsws", "epochs": 1, "select_samples": 4,
                                                   "select_top_k": 3, "select_epochs": 1}, Status.RUNNING)
    sink = runs.DatabaseSink(exp.pk)
    sink(1, {"type": "run_started", "v": 1, "time": time.time(), "epochs": 1, "steps_per_epoch": 4, "device": "cpu", "start_epoch": 0})
    genotypes = [f"|{op}~0|+|none~0|skip_connect~1|+|none~0|none~1|nor_conv_3x3~2|"
                 for op in ("nor_conv_3x3", "nor_conv_1x1", "skip_connect", "avg_pool_3x3")]
    oneshot = [0.50, 0.40, 0.45, 0.48]
    alone = {0: 0.58, 3: 0.55, 2: 0.61}
    ranks = {0: 1, 3: 2, 2: 3, 1: 4}
    common = {"type": "selection", "v": 1, "total": 7, "samples": 4, "top_k": 3, "epochs": 1}

    def cand(i: int, retrained: bool) -> dict[str, Any]:
        return {"index": i, "genotype": genotypes[i], "source": "derived" if i == 0 else "sampled", "oneshot_val_acc": oneshot[i],
                "oneshot_val_loss": 1.0, "oneshot_rank": ranks[i], "retrained": retrained,
                "standalone_val_acc": alone.get(i) if retrained else None, "standalone_val_loss": 0.9 if retrained else None}

    sink(2, {**common, "time": time.time(), "phase": "start", "done": 0})
    for i in range(4):
        sink(3 + i, {**common, "time": time.time(), "phase": "rank", "done": i + 1, "index": i, "candidate": cand(i, False)})
    sink(7, {**common, "time": time.time(), "phase": "retrain", "done": 5, "index": 0, "epoch": 1, "candidate": cand(0, True)})
    Experiment.objects.filter(pk=exp.pk).update(heartbeat_at=timezone.now() + timedelta(hours=1))  # no reaper takes it
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/experiments/{exp.pk}/")
    page.wait_for_selector("#selection-progress-row:not([hidden])")
    assert "retraining the top 3 from scratch: candidate 0, epoch 1 of 1" in page.text_content("#selection-progress")
    assert page.evaluate("document.getElementById('selection-fill').style.width") == "71.4%"
    # the row above is drawn by the server; the progress text only once the first poll has answered
    page.wait_for_function("document.getElementById('progress-text').textContent.includes("
                           "'choosing the final architecture (5/7)')")
    page.wait_for_selector("#selection-plot .main-svg")  # the first retrained point, drawn live
    assert page.evaluate("document.getElementById('selection-plot').data[0].x") == [0.5]
    axes = page.evaluate("""(() => { const l = document.getElementById('selection-plot').layout;
        return [l.title.text, l.xaxis.title.text, l.yaxis.title.text]; })()""")  # worded by presenters/selection.py
    assert axes == ["One-shot vs stand-alone validation accuracy (1 of 3 retrained so far)",
                    "one-shot validation accuracy", "stand-alone validation accuracy (1 epoch)"]

    for seq, i in ((8, 3), (9, 2)):
        sink(seq, {**common, "time": time.time(), "phase": "retrain", "done": seq - 3, "index": i, "epoch": 1, "candidate": cand(i, True)})
    cands = [cand(i, i in alone) for i in range(4)]
    sink(10, {**common, "time": time.time(), "phase": "done", "done": 7, "candidates": cands, "chosen": 2, "kendall_tau": 1 / 3,
              "spearman": 0.5, "genotype": genotypes[2]})
    sink(11, {"type": "finished", "v": 1, "time": time.time(), "status": "finished", "epoch": 1, "result": {}})
    Experiment.objects.filter(pk=exp.pk).update(status=Status.FINISHED, ended_at=timezone.now())
    page.wait_for_function("window.nasboard.stopped", timeout=30_000)
    page.wait_for_function("document.getElementById('selection-plot').data.length === 2")
    plot = page.evaluate("""(() => { const d = document.getElementById('selection-plot');
        return {traces: d.data.map((t) => [t.name, t.x, t.y, t.marker.symbol || null]), title: d.layout.title.text}; })()""")
    assert plot["traces"] == [["retrained", [0.5, 0.48], [0.58, 0.55], None], ["kept: candidate 2", [0.45], [0.61], "star"]]
    assert "Kendall τ = +0.33" in plot["title"] and "Spearman ρ = +0.50" in plot["title"]
    assert page.locator("#selection-progress-row").is_hidden()
    assert "kept candidate 2 (one-shot rank 3, stand-alone val acc 61.00%)" in page.text_content("#selection-summary")
    assert "selection: done: kept candidate 2" in page.text_content("#log")


def test_form_shows_the_chosen_methods_settings_and_runs_again_with_changes(live_server: Any, page: Any, alice: Any,
                                                                           tiny_config: dict[str, Any]) -> None:
    """"Run again with changes" pre-fills every setting of an experiment; the form shows the chosen method's
    settings only (a one-shot method's components, any of which may override its preset; not for a black-box
    method), and the new experiment differs only where changed."""
    base = live_server.url
    source = unsent_experiment(alice, "the source", {**tiny_config, "optimizer": "gdas", "tau_max": 5.0})
    log_in(page, base, "alice")
    page.goto(f"{base}/experiments/{source.pk}/")
    page.click("#run-again")
    page.wait_for_url("**/experiments/new?from=*")
    assert page.input_value("#id_optimizer") == "gdas" and page.input_value("#id_name") == "the source (again)"
    assert page.is_visible("#gumbel-temperature-gdas-snas-settings")
    assert page.is_visible("#partial-channels-pc-darts-settings")  # gdas with partial channels is a composition
    assert page.is_visible("#relaxation-settings")
    page.select_option("#id_optimizer", "re")
    assert not page.is_visible("#partial-channels-pc-darts-settings")
    assert not page.is_visible("#gumbel-temperature-gdas-snas-settings")
    page.select_option("#id_optimizer", "gdas")
    page.click("#gumbel-temperature-gdas-snas-settings summary")
    assert page.input_value("#id_tau_max") == "5.0"
    page.fill("#id_tau_max", "4")
    page.fill("#id_epochs", "2")
    page.click("button:has-text('Launch')")
    page.wait_for_url("**/experiments/*/")
    again = Experiment.objects.exclude(pk=source.pk).get()
    assert again.config == {**source.config, "tau_max": 4.0, "epochs": 2}
