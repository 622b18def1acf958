"""Sentences built on the server: every event type the engine emits has a log line."""
from __future__ import annotations

import dataclasses

import pytest

from nascore import events as E
from webapp.experiments.presenters.events import TEXTS, event_text


def test_every_engine_event_type_has_a_line():
    from nascore.evaluation.train import EvalEpoch

    kinds = {cls.__dataclass_fields__["type"].default for cls in vars(E).values()
             if dataclasses.is_dataclass(cls) and isinstance(cls, type) and issubclass(cls, E.Event) and cls is not E.Event}
    kinds.add(EvalEpoch.__dataclass_fields__["type"].default)
    assert kinds <= set(TEXTS), kinds - set(TEXTS)


@pytest.mark.parametrize("event,text", [
    ({"type": "epoch", "epoch": 2, "epochs": 5, "train_loss": 1.23456, "train_acc": 0.5, "val_loss": 1.5, "val_acc": 0.25,
      "lr": 0.025, "seconds": 3.21},
     "epoch 2/5: train loss 1.2346, acc 50.00% · val loss 1.5000, acc 25.00% · lr 0.02500 · 3.2 s"),
    ({"type": "curvature", "epoch": 4, "eigenvalue": 0.4, "trace": None, "iterations": 8, "converged": False,
      "seconds": 0.5, "ratio": 0.40385, "window": 2, "threshold": 0.75},
     "curvature after epoch 4: dominant Hessian eigenvalue 0.4000 (8 iterations, not converged, 0.5 s); "
     "earlier/later 0.404 (k = 2, threshold 0.75)"),
    ({"type": "finished", "status": "cancelled", "epoch": 2}, "cancelled during epoch 3"),
    ({"type": "selection", "phase": "done", "chosen": 3, "kendall_tau": 0.5, "spearman": float("nan")},
     "selection: done: kept candidate 3; Kendall τ +0.50, Spearman ρ undefined"),
    ({"type": "query", "run": 1, "seed": 0, "query": 7, "genotype": "|skip_connect~0|", "valid_acc": 80.5,
      "test_acc": 81.25, "best_valid_acc": 85.0, "best_query": 3},
     "run 1 (seed 0), query 7: |skip_connect~0| val acc 80.50%, test acc 81.25% · best so far 85.00% (query 3)"),
    ({"type": "mystery", "x": 1}, '{"type": "mystery", "x": 1}'),
])
def test_lines_read_as_before(event, text):
    assert event_text(event) == text


@pytest.mark.django_db
def test_the_live_page_gets_the_sections_lines_its_events_change(client, alice, tiny_config):
    from tests.webapp.support import login, unsent_experiment
    from webapp.experiments.services import runs

    exp = unsent_experiment(alice, "live", {**tiny_config, "early_stop": "es", "early_stop_window": 1})
    sink = runs.DatabaseSink(exp.pk)
    sink(1, {"type": "epoch", "v": 1, "time": 1.0, "epoch": 1, "epochs": 3, "train_loss": 1.0, "train_acc": 0.5,
             "val_loss": 1.0, "val_acc": 0.5, "lr": 0.1, "seconds": 1.0})
    login(client, alice)
    first = client.get(f"/api/experiments/{exp.pk}/events?after=0").json()
    assert "curvature_summary" not in first and first["events"][0]["text"].startswith("epoch 1/3")
    for seq, (epoch, eig, ratio) in enumerate(((1, 0.1, None), (2, 0.4, 0.25)), start=2):
        sink(seq, {"type": "curvature", "v": 1, "time": 1.0, "epoch": epoch, "eigenvalue": eig, "trace": None,
                   "round": 0, "ratio": ratio, "window": 1, "threshold": 0.75})
    data = client.get(f"/api/experiments/{exp.pk}/events?after=1").json()
    assert data["curvature_summary"] == ("2 curvature points · latest dominant eigenvalue 0.4000 after epoch 2 · "
                                         "earlier/later 0.250 · DARTS-ES, window k = 1, threshold 0.75")


@pytest.mark.django_db
def test_the_progress_line_is_worded_on_the_server(alice, tiny_config):
    from tests.webapp.support import unsent_experiment
    from webapp.experiments.models import Experiment, Status
    from webapp.experiments.presenters.progress import progress_text, seconds_text

    assert [seconds_text(s) for s in (42, 187, 3900)] == ["42s", "3m 07s", "1h 05m"]
    exp = unsent_experiment(alice, "p", {**tiny_config, "epochs": 4})
    assert progress_text(exp) == "epoch 0/4 · waiting for a worker"
    Experiment.objects.filter(pk=exp.pk).update(status=Status.RUNNING, epochs_done=1, step=3, steps_per_epoch=6,
                                                best_val_acc=0.5, seconds_per_epoch=10.0)
    exp.refresh_from_db()
    assert progress_text(exp).startswith("epoch 1/4 · step 3/6 of epoch 2 · ETA ")
    assert progress_text(exp).endswith(" · best val acc 50.00%")
    Experiment.objects.filter(pk=exp.pk).update(status=Status.STOPPED_EARLY)
    exp.refresh_from_db()
    exp.events.create(seq=1, type="early_stop", payload={"trigger_epoch": 3, "returned_epoch": 1})
    assert progress_text(exp) == ("epoch 1/4 · stopped early after epoch 3, returns the architecture of epoch 1 · "
                                  "best val acc 50.00%")
