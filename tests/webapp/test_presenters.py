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


def _run(seed, n, end, steps):
    return {"run": seed, "seed": seed, "n": n, "end": end, "steps": steps}


def test_the_regret_line_is_the_plots_last_point_worded_on_the_server():
    from webapp.experiments.presenters.regret import blackbox_lines, last_point

    runs = [_run(1, 10, 500.0, [[1, 50.0, 80.0, 79.0], [4, 200.0, 90.0, 88.0]]),
            _run(2, 10, 450.0, [[1, 40.0, 70.0, 71.0], [9, 400.0, 86.0, 85.0]]),
            _run(3, 6, 300.0, [[2, 90.0, 95.0, 94.0]])]  # still running: not at the last point
    point = last_point(runs, "queries")
    assert point["x"] == 10 and point["valid"] == pytest.approx((88.0, 2.0)) and point["test"] == pytest.approx((86.5, 1.5))
    seconds = last_point(runs, "seconds")  # only the run that spent the most simulated seconds is there
    assert seconds["x"] == 500.0 and seconds["valid"] == pytest.approx((90.0, 0.0))

    lines = blackbox_lines("re", {"evaluator": "table"}, runs, 91.5)
    assert lines["blackbox_title"] == "Regularized Evolution: 3 seeded runs"
    assert lines["blackbox_summary"] == ("3 runs (seeds 1, 2, 3); after 10 queries: best validation 88.00 ± 2.00%, "
                                         "test accuracy of that cell 86.50 ± 1.50%; regret 3.500 points of validation "
                                         "accuracy")
    trained = [_run(0, 3, None, [[1, None, 60.0, None]])]  # candidates trained: no test figures, no seconds axis
    lines = blackbox_lines("rs", {"budget_unit": "seconds"}, trained, None)
    assert lines["blackbox_summary"] == "1 run (seeds 0); after 3 queries: best validation 60.00 ± 0.00%"
    assert blackbox_lines("rs", {}, [], None) == {}


@pytest.mark.django_db
def test_the_live_page_gets_the_regret_line_up_to_the_events_it_has(client, alice):
    from tests.webapp.support import login, unsent_experiment
    from webapp.experiments.models import Event, Experiment

    exp = unsent_experiment(alice, "rs", {"space": "nb201", "optimizer": "rs", "dataset": "digits", "device": "cpu"})
    for seq, (query, best) in enumerate([(1, 60.0), (2, 70.0), (3, 75.0)], start=1):
        Event.objects.create(experiment=exp, seq=seq, type="query", payload={
            "type": "query", "run": 0, "seed": 5, "query": query, "genotype": "x", "valid_acc": best,
            "best_valid_acc": best, "best_query": query})
    Experiment.objects.filter(pk=exp.pk).update(last_seq=3)
    login(client, alice)
    first = client.get(f"/api/experiments/{exp.pk}/events?after=0&limit=2").json()
    assert first["blackbox_summary"] == "1 run (seeds 5); after 2 queries: best validation 70.00 ± 0.00%"
    assert first["blackbox_title"] == "Random search: 1 seeded run"
    rest = client.get(f"/api/experiments/{exp.pk}/events?after=2").json()
    assert rest["blackbox_summary"].startswith("1 run (seeds 5); after 3 queries: best validation 75.00")
    assert "blackbox_summary" not in client.get(f"/api/experiments/{exp.pk}/events?after=3").json()
