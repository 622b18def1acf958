"""Faults injected into real runs: real Celery worker subprocesses on the test PostgreSQL and Redis, tiny searches.
Each test checks that nothing is lost or written twice (events numbered 1..N, every epoch once, the run finished)
and prints its figures (seconds), which ``pytest -s`` shows."""
from __future__ import annotations

import os
import time
from typing import Any, Callable

import pytest
from django.db import connection
from django.test import override_settings

from tests.webapp.fault_support import assert_whole_history
from tests.webapp.support import ended
from webapp.experiments import services
from webapp.experiments.models import Event, Experiment, Status

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _figure(name: str, value: float) -> None:
    print(f"FIGURE {name}: {value:.1f}")


def _own_queues(tag: str) -> str:
    """A queue prefix of this test's own, so that no other test's worker takes its runs."""
    return os.environ["NASBOARD_QUEUE_PREFIX"] + tag + "-"


@pytest.mark.timeout(600)
def test_sigterm_checkpoints_and_requeues_the_run_which_resumes_elsewhere(
        start_worker: Callable[..., Any], alice: Any, tiny_config: dict[str, Any], wait_for: Callable[..., Any]) -> None:
    prefix = _own_queues("sigterm")
    first = start_worker("stopping", prefix)
    with override_settings(NASBOARD_QUEUE_PREFIX=prefix):
        exp = services.create_experiment(alice, "stopped worker", {**tiny_config, "epochs": 5, "steps_per_epoch": 12})
    wait_for(lambda: Event.objects.filter(experiment=exp, type="checkpoint", payload__epoch=2).exists(), 240,
             "epoch 2's checkpoint")
    wait_for(lambda: Event.objects.filter(experiment=exp, type="step", payload__epoch=3).exists(), 60, "a step of epoch 3")
    first.terminate()  # SIGTERM to the worker's main process, as `docker compose stop` sends it
    asked = time.time()
    back = wait_for(lambda: Experiment.objects.filter(pk=exp.pk, status=Status.QUEUED, dispatch=2).first(), 30,
                    "the run to be handed back to the queue")
    requeued_after = time.time() - asked
    first.proc.wait(timeout=30)
    exited_after = time.time() - asked
    assert back.attempts == 0 and back.worker == ""  # a hand-back is not a lost attempt
    log = first.log()
    assert "handed the run back" in log and "WorkerLostError" not in log, log[-3000:]
    assert first.proc.returncode == 0
    start_worker("next", prefix)
    resumed = wait_for(lambda: Event.objects.filter(experiment=exp, type="run_started", payload__resumed=True).first(),
                       120, "the run to resume on the next worker")
    exp = wait_for(lambda: ended(exp.pk), 300, "the run to finish on the next worker")
    assert exp.status == Status.FINISHED, exp.error
    assert exp.worker.startswith("next") and exp.attempts == 1
    events = assert_whole_history(exp.pk, 5)
    starts = [e.payload for e in events if e.type == "run_started"]
    assert len(starts) == 2 and starts[1]["resumed"] and starts[1]["start_epoch"] == 2
    assert not [e for e in events if e.type == "log" and "cancelled" in str(e.payload.get("message"))]
    _figure("sigterm -> requeued (s)", requeued_after)
    _figure("sigterm -> worker exited (s)", exited_after)
    _figure("sigterm -> resumed on the next worker, incl. its start-up (s)", resumed.payload["time"] - asked)
