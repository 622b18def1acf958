"""Real Celery workers (subprocesses) running real tiny searches on the test PostgreSQL and Redis."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from django.test import override_settings

from tests.webapp.support import ended
from webapp.experiments import services
from webapp.experiments.models import Event, Experiment, Result, Status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_tiny_search_end_to_end(shared_worker: Any, alice: Any, tiny_config: dict[str, Any], wait_for: Callable[..., Any]) -> None:
    exp = services.create_experiment(alice, "end to end", {**tiny_config, "curvature_every": 1})
    exp = wait_for(lambda: ended(exp.pk), 240, "the run to end")
    assert exp.status == Status.FINISHED, f"{exp.error}\n{shared_worker.log()[-3000:]}"
    events = list(Event.objects.filter(experiment=exp).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # in order, none missing
    types = [e.type for e in events]
    assert types[0] == "run_started" and types[-1] == "finished"
    assert [e.payload["epoch"] for e in events if e.type == "epoch"] == [1, 2, 3]
    assert {"step", "arch", "genotype", "checkpoint"} <= set(types)
    arch = [e for e in events if e.type == "arch"][-1].payload
    assert set(arch["cells"]) == {"normal", "reduce"}
    cell = arch["cells"]["normal"]
    assert len(cell["weights"]) == len(cell["edges"]) and len(cell["weights"][0]) == len(cell["ops"])
    curvature = [e.payload for e in events if e.type == "curvature"]  # the dominant Hessian eigenvalue, every epoch
    assert [c["epoch"] for c in curvature] == [1, 2, 3]
    assert all(isinstance(c["eigenvalue"], float) and isinstance(c["trace"], float) for c in curvature), curvature
    times = [e.payload["time"] for e in events]
    assert times == sorted(times)
    # the DB holds exactly what the engine wrote to its own events.jsonl
    jsonl = [json.loads(line) for line in (services.artifact_dir(exp) / "events.jsonl").read_text().splitlines()]
    assert [(r["seq"], r["type"]) for r in jsonl] == [(e.seq, e.type) for e in events]
    assert exp.epochs_done == 3 and exp.progress == 1.0 and exp.attempts == 1 and exp.device == "cpu"
    assert exp.worker.startswith("shared-") and exp.best_val_acc is not None and exp.ended_at is not None
    result = Result.objects.get(experiment=exp)
    assert result.epochs_completed == 3 and result.genotype and result.params and result.best_val_acc == exp.best_val_acc
    assert Path(result.artifacts["checkpoint.pt"]).is_file()


def test_cancel_stops_within_a_step(shared_worker: Any, alice: Any, tiny_config: dict[str, Any], wait_for: Callable[..., Any]) -> None:
    config = {**tiny_config, "epochs": 40, "steps_per_epoch": 30, "step_log_every": 1}
    exp = services.create_experiment(alice, "to cancel", config)
    wait_for(lambda: Event.objects.filter(experiment=exp, type="step", payload__step__gte=2).exists(), 180, "training steps")
    services.cancel_experiment(exp)
    asked = time.time()
    exp = wait_for(lambda: ended(exp.pk), 60, "the run to stop")
    assert exp.status == Status.CANCELLED and not exp.cancel_requested
    steps_after = Event.objects.filter(experiment=exp, type="step", payload__time__gt=asked).count()
    assert steps_after <= 1, f"{steps_after} steps ran after the cancel"
    last = Event.objects.filter(experiment=exp).order_by("-seq").first()
    assert last.type == "finished" and last.payload["status"] == "cancelled"
    assert exp.epochs_done < 40


def test_failed_run_is_marked_with_its_reason(shared_worker: Any, alice: Any, tiny_config: dict[str, Any], wait_for: Callable[..., Any]) -> None:
    exp = services.create_experiment(alice, "no data", {**tiny_config, "dataset": "cifar10", "download": False})
    exp = wait_for(lambda: ended(exp.pk), 120, "the run to fail")
    assert exp.status == Status.FAILED and "cifar" in exp.error.lower() and "download" in exp.error


def test_nan_loss_fails_with_its_reason(shared_worker: Any, alice: Any, tiny_config: dict[str, Any],
                                                  wait_for: Callable[..., Any]) -> None:
    exp = services.create_experiment(alice, "diverges", {**tiny_config, "w_lr": 1e15, "grad_clip": 1e15})
    exp = wait_for(lambda: ended(exp.pk), 120, "the run to fail")
    assert exp.status == Status.FAILED and "loss became nan" in exp.error.lower(), exp.error
    last = Event.objects.filter(experiment=exp).order_by("-seq").first()
    assert last.type == "failed" and last.payload["reason"] == exp.error


@pytest.mark.timeout(420)
def test_killed_worker_run_resumes_on_another(start_worker: Callable[[str], Any], alice: Any, tiny_config: dict[str, Any],
                                              wait_for: Callable[..., Any]) -> None:
    # own queues, so that the shared worker of the other tests cannot take the run
    prefix = os.environ["NASBOARD_QUEUE_PREFIX"] + "kill-"
    first = start_worker("doomed", prefix)
    config = {**tiny_config, "epochs": 5, "steps_per_epoch": 12}
    with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
        exp = services.create_experiment(alice, "survives", config)
    # let it finish two epochs (checkpointed), then kill the worker in the middle of the third
    wait_for(lambda: Event.objects.filter(experiment=exp, type="checkpoint", payload__epoch=2).exists(), 240, "epoch 2's checkpoint")
    wait_for(lambda: Event.objects.filter(experiment=exp, type="step", payload__epoch=3).exists(), 60, "a step of epoch 3")
    first.kill()
    lost = Experiment.objects.get(pk=exp.pk)
    assert lost.status == Status.RUNNING and lost.worker.startswith("doomed")
    start_worker("rescuer", prefix)  # its reaper sees the silent heartbeat and requeues; it picks the run up
    exp = wait_for(lambda: ended(exp.pk), 300, "the run to finish on the second worker")
    assert exp.status == Status.FINISHED, exp.error
    assert exp.worker.startswith("rescuer") and exp.attempts == 2  # both starts count towards the limit
    events = list(Event.objects.filter(experiment=exp).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    epochs = [e.payload["epoch"] for e in events if e.type == "epoch"]
    assert epochs == [1, 2, 3, 4, 5]  # none lost, none duplicated
    starts = [e.payload for e in events if e.type == "run_started"]
    assert len(starts) == 2 and starts[1]["resumed"] and starts[1]["start_epoch"] >= 2
    assert Result.objects.get(experiment=exp).epochs_completed == 5
    assert exp.history_rev == 1  # the lost attempt's events past the checkpoint were dropped once


def test_resume_after_cancel_continues_from_the_checkpoint(shared_worker: Any, alice: Any, tiny_config: dict[str, Any],
                                                           wait_for: Callable[..., Any]) -> None:
    exp = services.create_experiment(alice, "stop and go", {**tiny_config, "steps_per_epoch": 10, "step_log_every": 1})
    wait_for(lambda: Event.objects.filter(experiment=exp, type="checkpoint", payload__epoch=1).exists(), 180, "epoch 1's checkpoint")
    services.cancel_experiment(exp)
    exp = wait_for(lambda: ended(exp.pk), 60, "the run to stop")
    assert exp.status == Status.CANCELLED and exp.is_resumable
    services.resume_experiment(exp)
    exp = wait_for(lambda: ended(exp.pk), 180, "the resumed run to end")
    assert exp.status == Status.FINISHED, exp.error
    events = list(Event.objects.filter(experiment=exp).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [e.payload["epoch"] for e in events if e.type == "epoch"] == [1, 2, 3]
    starts = [e.payload for e in events if e.type == "run_started"]
    assert len(starts) == 2 and starts[1]["resumed"] and starts[1]["start_epoch"] >= 1
    assert [e.payload["status"] for e in events if e.type == "finished"] == ["finished"]  # the cancel was rewound


def test_darts_es_stops_early_with_its_reason(shared_worker: Any, alice: Any, tiny_config: dict[str, Any],
                                              wait_for: Callable[..., Any]) -> None:
    # window 1 and a threshold far above any ratio: the second curvature point triggers DARTS-ES
    config = {**tiny_config, "epochs": 4, "curvature_every": 1, "curvature_samples": 32, "early_stop": "es",
              "early_stop_window": 1, "early_stop_threshold": 100.0}
    exp = services.create_experiment(alice, "stops early", config)
    exp = wait_for(lambda: ended(exp.pk), 240, "the run to end")
    assert exp.status == Status.STOPPED_EARLY, f"{exp.status} {exp.error}\n{shared_worker.log()[-3000:]}"
    assert exp.stop_reason.startswith("DARTS-ES stopped the search after epoch 2 of 4") and not exp.error
    events = list(Event.objects.filter(experiment=exp).order_by("seq"))
    assert [e.payload["epoch"] for e in events if e.type == "curvature"] == [1, 2]
    stop = [e.payload for e in events if e.type == "early_stop"]
    assert len(stop) == 1 and (stop[0]["trigger_epoch"], stop[0]["returned_epoch"]) == (2, 1)
    assert stop[0]["reason"] == exp.stop_reason and stop[0]["ratio"] < 100.0
    assert events[-1].type == "finished" and events[-1].payload["status"] == "stopped_early"
    result = Result.objects.get(experiment=exp)
    assert result.epochs_completed == 2 and result.raw["returned_epoch"] == 1
    assert result.genotype == stop[0]["genotype"]  # the architecture of the returned epoch
    assert exp.epochs_done == 2 and not exp.is_resumable


def test_a_search_on_a_saved_space_finishes(shared_worker: Any, alice: Any, tiny_config: dict[str, Any],
                                            wait_for: Callable[..., Any], client: Any) -> None:
    """The worker resolves name@N from the database (the space source registered at start-up) and runs it."""
    from webapp.experiments.services import spaces as space_actions

    ladder = (Path(__file__).resolve().parents[1] / "nascore" / "spaces" / "ladder.yaml").read_text()
    space_actions.save(alice, ladder)
    config = {**tiny_config, "space": "ladder", "epochs": 1, "steps_per_epoch": 2, "channels": 4, "layers": 1}
    exp = services.create_experiment(alice, "on a saved space", config)
    assert exp.space == "ladder@1"
    exp = wait_for(lambda: ended(exp.pk), 240, "the run to end")
    assert exp.status == Status.FINISHED, f"{exp.error}\n{shared_worker.log()[-3000:]}"
    genotype = Result.objects.get(experiment=exp).genotype
    assert set(genotype) == {"rung"} and len(genotype["rung"]) == 6
    client.force_login(alice)
    html = client.get(f"/experiments/{exp.pk}/").content.decode()
    assert 'href="/spaces/ladder@1/"' in html and genotype["rung"][0] in html
    # its architecture retrains on a worker too
    from webapp.experiments.services.retrain import create_retrain

    retrain = create_retrain(exp, {"epochs": 1, "steps_per_epoch": 2, "channels": 4, "layers": 1, "batch_size": 32})
    retrain = wait_for(lambda: ended(retrain.pk), 240, "the retrain to end")
    assert retrain.status == Status.FINISHED, f"{retrain.error}\n{shared_worker.log()[-3000:]}"
    assert retrain.space == "ladder@1" and Result.objects.get(experiment=retrain).test_acc is not None
