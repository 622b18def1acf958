"""ProxylessNAS's hardware-aware term on the experiment page: the expected FLOPs (or latency) of the distribution per
epoch, plotted beside accuracy with the server's words, in headless Chromium."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from tests.webapp.browser_support import log_in
from tests.webapp.support import unsent_experiment
from webapp.experiments.models import Experiment, Status
from webapp.experiments.presenters.cost import CHARTS
from webapp.experiments.services import runs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


def test_the_expected_flops_are_plotted_per_epoch_beside_accuracy(live_server: Any, page: Any, alice: Any,
                                                                   tiny_config: dict[str, Any]) -> None:
    from django.utils import timezone

    config = {**tiny_config, "optimizer": "proxyless", "cost_penalty": "additive", "cost_model": "flops"}
    exp = unsent_experiment(alice, "hardware-aware", config, Status.RUNNING)
    sink = runs.DatabaseSink(exp.pk)
    now = time.time()
    sink(1, {"type": "run_started", "v": 1, "time": now, "epochs": 3, "steps_per_epoch": 4, "device": "cpu",
             "start_epoch": 0})
    seq = 2
    for epoch, expected in ((0, 2.0e6), (1, 1.8e6), (2, 1.5e6)):
        if epoch:
            sink(seq, {"type": "epoch", "v": 1, "time": now, "epoch": epoch, "epochs": 3, "train_loss": 2.0,
                       "train_acc": 0.2, "val_loss": 2.1, "val_acc": 0.2, "lr": 0.02, "seconds": 1.0})
            seq += 1
        sink(seq, {"type": "expected_cost", "v": 1, "time": now, "epoch": epoch, "cost_model": "flops", "unit": "MACs",
                   "expected": expected, "reference": 2.0e6, "weight": 0.1, "penalty": "additive"})
        seq += 1
    Experiment.objects.filter(pk=exp.pk).update(heartbeat_at=timezone.now() + timedelta(hours=1))
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/experiments/{exp.pk}/")
    page.wait_for_selector("#curve-cost .main-svg")
    page.wait_for_selector("#curve-acc .main-svg")
    words = CHARTS["flops"]
    plot = page.evaluate("""(() => { const d = document.getElementById('curve-cost');
        return {names: d.data.map((t) => t.name), x: d.data[0].x, y: d.data[0].y, ref: d.data[1].y,
                title: d.layout.title.text, y_title: d.layout.yaxis.title.text}; })()""")
    assert plot["names"] == [words["legend"], words["reference"]]
    assert plot["title"] == words["title"] and plot["y_title"] == words["yTitle"]
    assert plot["x"] == [0, 1, 2] and plot["y"] == [2.0, 1.8, 1.5] and plot["ref"] == [2.0, 2.0, 2.0]
    assert "expected FLOPs of the distribution after epoch 2: 1.500 M MACs" in page.text_content("#log")


def test_the_form_fills_a_presets_own_defaults_and_a_protocols_values(live_server: Any, page: Any, alice: Any) -> None:
    """Picking proxyless puts the authors' architecture Adam in the untouched fields and picking darts again puts
    DARTS's back; a field the user changed is left alone; a protocol fills its values (newform.js, from the
    server's page config)."""
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/experiments/new")
    value = lambda name: page.input_value(f"[name={name}]")  # noqa: E731
    darts_lr, darts_beta1 = value("alpha_lr"), value("alpha_beta1")
    page.select_option("[name=optimizer]", "proxyless")
    assert float(value("alpha_lr")) == 1e-3 and float(value("alpha_beta1")) == 0.0
    assert float(value("alpha_weight_decay")) == 0.0
    page.select_option("[name=optimizer]", "darts")
    assert (value("alpha_lr"), value("alpha_beta1")) == (darts_lr, darts_beta1)
    page.fill("[name=alpha_lr]", "0.0007")
    page.select_option("[name=optimizer]", "proxyless")
    assert value("alpha_lr") == "0.0007" and float(value("alpha_beta1")) == 0.0  # the user's value stays
    page.select_option("[name=protocol]", "pcdarts_cifar10")
    assert value("optimizer") == "pcdarts" and value("batch_size") == "256"
    assert "PC-DARTS" in page.text_content("#protocol-line")
