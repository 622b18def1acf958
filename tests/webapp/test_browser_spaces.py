"""The Spaces pages in headless Chromium: paste a document, check it, see its cells drawn, save it; and a search on
a saved space whose genotype is one op per edge row gets its cells drawn on the live page."""
from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.webapp.browser_support import log_in
from tests.webapp.support import unsent_experiment
from webapp.experiments.models import Experiment, SavedSpace, Status
from webapp.experiments.services import runs
from webapp.experiments.services import spaces as actions

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]

LADDER = (Path(__file__).resolve().parents[1] / "nascore" / "spaces" / "ladder.yaml").read_text()


def test_paste_check_see_the_cells_and_save(live_server: Any, page: Any, alice: Any) -> None:
    log_in(page, live_server.url, "alice")
    page.click("nav >> text=Spaces")
    page.click("#new-space")
    page.fill("#id_document", LADDER.replace("rule: {kind: one_op_per_edge}", "rule: {kind: best}"))
    page.click("#check-space")
    page.wait_for_selector('#space-problems tr[data-place="rule.kind"]')
    assert page.locator("#space-preview").count() == 0
    page.fill("#id_document", LADDER)
    page.click("#check-space")
    cell = page.locator('#space-preview figure[data-cell-type="rung"] svg.cell-graph')
    cell.wait_for()
    assert cell.locator("path.edge").count() == 6 and cell.locator("circle.node").count() == 5
    labels = cell.locator("text.edge-label").all_text_contents()
    assert "skip_connect, avg_pool_5x5" in " ".join(labels) and "5 ops" in " ".join(labels)
    assert page.locator("#space-macro svg.macro-graph").is_visible()
    page.click("#save-space")
    page.wait_for_url(f"{live_server.url}/spaces/ladder@1/")
    assert page.locator("#space-preview svg.cell-graph").count() == 1
    assert SavedSpace.objects.get().document == LADDER


def test_the_live_page_draws_an_edge_ops_cell(live_server: Any, page: Any, alice: Any) -> None:
    from django.utils import timezone

    actions.save(alice, LADDER)
    exp = unsent_experiment(alice, "on ladder", {"space": "ladder", "dataset": "digits", "epochs": 2, "channels": 4,
                                                 "steps_per_epoch": 2, "device": "cpu"}, Status.RUNNING)
    sink = runs.DatabaseSink(exp.pk)
    now = time.time()
    sink(1, {"type": "run_started", "v": 1, "time": now, "epochs": 2, "steps_per_epoch": 2, "device": "cpu",
             "start_epoch": 0})
    ops = ["none", "skip_connect", "dil_conv_5x5", "avg_pool_5x5", "sep_conv_7x7"]
    edges = ["0→1", "1→2", "0→2", "2→3", "1→4", "3→4"]
    weights = [[0.1, 0.2, 0.5, 0.1, 0.1]] * 6
    sink(2, {"type": "arch", "v": 1, "time": now, "epoch": 1, "kind": "softmax", "cells": {"rung": {"edges": edges, "ops": ops,
                                                                                "weights": weights}}})
    genotype = {"rung": ["dil_conv_5x5", "sep_conv_7x7", "skip_connect", "dil_conv_5x5", "none", "sep_conv_7x7"]}
    sink(3, {"type": "genotype", "v": 1, "time": now, "epoch": 1, "genotype": genotype})
    Experiment.objects.filter(pk=exp.pk).update(heartbeat_at=timezone.now() + timedelta(hours=1))
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/experiments/{exp.pk}/")
    cell = page.locator("#cell-rung svg.cell-graph")
    cell.wait_for()
    labels = cell.locator("text.edge-label").all_text_contents()
    assert sorted(labels) == sorted(op for op in genotype["rung"] if op != "none")
    assert "in 0" in cell.locator("text.node-label").all_text_contents()


def test_the_retrain_page_draws_a_pairs_cell_of_a_space_numbered_its_own_way(live_server: Any, page: Any,
                                                                             alice: Any) -> None:
    """A cells-skeleton space whose cells take one input (node 0, intermediate nodes from 1): its pairs are drawn on
    the document's nodes, not DARTS's."""
    import yaml

    fork = yaml.safe_load((Path(__file__).resolve().parents[1] / "nascore" / "spaces" / "fork.yaml").read_text())
    fork["cells"]["plain"].update(inputs=[0], nodes=[1, 2, 3], output={"concat": [2, 3]})
    fork["cells"]["shrink"].update(inputs=[0], nodes=[1, 2, 3], output={"concat": [1, 2, 3]})
    actions.save(alice, yaml.safe_dump(fork))
    genotype = {"plain": [["max_pool_3x3", 0], ["skip_connect", 1], ["sep_conv_9x9", 0]], "plain_concat": [2, 3],
                "shrink": [["nor_conv_3x3", 0], ["nor_conv_3x3", 1], ["sep_conv_9x9", 0]],
                "shrink_concat": [1, 2, 3]}
    config = {"space": "fork", "dataset": "digits", "epochs": 1, "channels": 4, "layers": 3, "steps_per_epoch": 2,
              "device": "cpu", "kind": "retrain"}
    from webapp.experiments.services.retrain import GENOTYPE_KEY

    exp = unsent_experiment(alice, "search", {k: v for k, v in config.items() if k != "kind"}, Status.FINISHED)
    from webapp.experiments.models import Kind, Result

    Result.objects.create(experiment=exp, genotype=genotype, epochs_completed=1)
    Experiment.objects.filter(pk=exp.pk).update(kind=Kind.RETRAIN, config={**exp.config, GENOTYPE_KEY: genotype})
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/experiments/{exp.pk}/")
    cell = page.locator("#cell-plain svg.cell-graph")
    cell.wait_for()
    assert ["in 0", "1", "2", "3", "out"] == cell.locator("text.node-label").all_text_contents()
    assert sorted(cell.locator("text.edge-label").all_text_contents()) == ["max_pool_3x3", "sep_conv_9x9",
                                                                           "skip_connect"]
    edges = cell.locator("path.edge:not(.concat)")
    assert edges.count() == 3 and cell.locator("path.edge.concat").count() == 2
