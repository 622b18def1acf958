"""Running an experiment on a worker: claim the delivered run (idempotently: a stale or duplicate message does
nothing), run the engine with a database sink and a heartbeat, record how it ended.  The Celery task
(:mod:`webapp.experiments.tasks`) is a thin shell around :func:`run_dispatched`."""
from __future__ import annotations

import logging
import socket
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from nascore.config import ConfigError, as_stored
from webapp.experiments.models import (
    Event,
    Experiment,
    Kind,
    Result,
    Status,
)
from webapp.experiments import worker_stop
from webapp.experiments.services import live_push
from webapp.experiments.services.db_retry import retrying
from webapp.experiments.services.experiments import BrokerUnavailable, artifact_dir, send_run
from webapp.experiments.services.json_values import jsonable

log = logging.getLogger("nasboard.experiments")


def _fail(experiment_id: int, dispatch: int, reason: str) -> None:
    Experiment.objects.filter(pk=experiment_id, dispatch=dispatch).update(
        status=Status.FAILED, error=reason[:5000], ended_at=timezone.now(), cancel_requested=False
    )


def claim_run(experiment_id: int, dispatch: int, worker: str) -> Experiment | None:
    """Take a delivered message's run, or None when the message is stale or a duplicate.

    A message is honoured only if it carries the experiment's current dispatch number and
    the run is queued, or running on this same worker (its process died and the broker
    gave the message back), or running with a silent heartbeat (its worker vanished).
    """
    now = timezone.now()
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().filter(pk=experiment_id).first()
        if exp is None or exp.dispatch != dispatch or exp.kind == Kind.STUDY:  # a study's tasks are its trials'
            return None
        if exp.status == Status.RUNNING:
            silent = exp.heartbeat_at is None or exp.heartbeat_at < now - timedelta(seconds=settings.NASBOARD_HEARTBEAT_TIMEOUT)
            if exp.worker != worker and not silent:
                return None
        elif exp.status != Status.QUEUED:
            return None
        if exp.attempts >= settings.NASBOARD_MAX_ATTEMPTS:
            exp.status = Status.FAILED
            exp.error = (
                f"the run was started {exp.attempts} times and its worker was lost each time; "
                f"gave up (NASBOARD_MAX_ATTEMPTS={settings.NASBOARD_MAX_ATTEMPTS})"
            )
            exp.ended_at = now
            exp.save()
            return None
        exp.status = Status.RUNNING
        exp.attempts += 1
        exp.worker = worker
        exp.heartbeat_at = now
        exp.started_at = exp.started_at or now
        exp.save()
    return exp



#: events that close an epoch: a search's ``epoch`` (validation metrics), a retrain's ``eval_epoch`` (test metrics)
EPOCH_EVENTS = ("epoch", "eval_epoch")


class DatabaseSink:
    """Writes a run's events into the database, upserting on (experiment, seq).

    A replayed epoch after a resume carries the same sequence numbers, so it overwrites
    instead of duplicating; ``truncate_after`` drops what the lost attempt wrote past
    its last checkpoint. It also keeps the experiment's progress summary.
    """

    def __init__(self, experiment_id: int, is_current: Callable[[], bool] = lambda: True):
        self.experiment_id = experiment_id
        self.is_current = is_current
        self._epochs: dict[int, tuple[float | None, float | None]] = {}
        self._load_epochs()

    def _load_epochs(self) -> None:
        self._epochs = {}
        for payload in Event.objects.filter(experiment_id=self.experiment_id, type__in=EPOCH_EVENTS).values_list("payload", flat=True):
            self._epochs[int(payload.get("epoch", 0))] = (payload.get("val_acc"), payload.get("seconds"))

    def _summary(self) -> dict[str, Any]:
        accs = [a for a, _ in self._epochs.values() if isinstance(a, (int, float))]
        secs = [s for _, s in self._epochs.values() if isinstance(s, (int, float))]
        return {"best_val_acc": max(accs) if accs else None, "seconds_per_epoch": (sum(secs) / len(secs)) if secs else None}

    def __call__(self, seq: int, event: dict[str, Any]) -> None:
        if not self.is_current():
            return
        retrying(lambda: self._write(seq, event), f"experiment {self.experiment_id}: event {seq}")

    def _write(self, seq: int, event: dict[str, Any]) -> None:
        data = jsonable(dict(event))
        etype = str(data.get("type", "event"))[:30]
        updates: dict[str, Any] = {"last_seq": seq, "heartbeat_at": timezone.now()}
        if etype == "run_started":
            updates.update(
                epochs=int(data.get("epochs") or 0),
                steps_per_epoch=int(data.get("steps_per_epoch") or 0),
                device=str(data.get("device", ""))[:50],
                epochs_done=int(data.get("start_epoch") or 0),
                step=0,
            )
        elif etype == "step":
            updates.update(step=int(data.get("step") or 0), steps_per_epoch=int(data.get("steps_per_epoch") or 0))
        elif etype in EPOCH_EVENTS:
            epoch = int(data.get("epoch") or 0)
            self._epochs[epoch] = (data.get("val_acc"), data.get("seconds"))
            updates.update(epochs_done=epoch, step=0, last_val_acc=data.get("val_acc"), **self._summary())
        with transaction.atomic():
            Event.objects.bulk_create(
                [Event(experiment_id=self.experiment_id, seq=seq, type=etype, payload=data, created_at=timezone.now())],
                update_conflicts=True,
                unique_fields=["experiment", "seq"],
                update_fields=["type", "payload", "created_at"],
            )
            Experiment.objects.filter(pk=self.experiment_id).update(**updates)
        live_push.publish(self.experiment_id, seq)  # after the commit: a woken stream finds the event

    def truncate_after(self, seq: int) -> None:
        if not self.is_current():
            return
        retrying(lambda: self._truncate_after(seq), f"experiment {self.experiment_id}: rewinding to event {seq}")

    def _truncate_after(self, seq: int) -> None:
        with transaction.atomic():
            dropped, _ = Event.objects.filter(experiment_id=self.experiment_id, seq__gt=seq).delete()
            self._load_epochs()
            updates: dict[str, Any] = {"last_seq": seq, **self._summary()}
            if dropped:
                updates["history_rev"] = F("history_rev") + 1
            Experiment.objects.filter(pk=self.experiment_id).update(**updates)
        live_push.publish(self.experiment_id, seq)


class Heartbeat(threading.Thread):
    """Stamps the run as alive every few seconds; notices when the run was taken away."""

    def __init__(self, experiment_id: int, dispatch: int, interval: float):
        super().__init__(name=f"heartbeat-{experiment_id}", daemon=True)
        self.experiment_id = experiment_id
        self.dispatch = dispatch
        self.interval = interval
        self.superseded = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.wait(self.interval):
                try:
                    alive = Experiment.objects.filter(pk=self.experiment_id, dispatch=self.dispatch, status=Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:  # a DB hiccup: try again next beat
                    log.exception("heartbeat for experiment %s failed", self.experiment_id)
                    close_old_connections()
                    continue
                if not alive:
                    self.superseded = True
                    return
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=self.interval + 5)


def _save_result(experiment: Experiment, result: dict[str, Any], out_dir: Path) -> None:
    result = jsonable(result)
    metrics = result.get("metrics") or {}
    artifacts = {name: str(out_dir / name) for name in ("result.json", "events.jsonl", "checkpoint.pt") if (out_dir / name).exists()}

    def num(key: str, source: dict[str, Any] = metrics) -> Any:
        value = source.get(key)
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    Result.objects.update_or_create(
        experiment=experiment,
        defaults={
            "genotype": result.get("genotype"),
            "train_acc": num("train_acc"),
            "val_acc": num("val_acc"),
            "best_val_acc": num("best_val_acc"),
            "train_loss": num("train_loss"),
            "val_loss": num("val_loss"),
            # the discovered architecture's own network (the supernet's size is in `raw`)
            "params": num("genotype_params", result) if "genotype_params" in result else num("params", result),
            "arch_params": num("arch_params", result),
            "flops": num("flops", result),
            "epochs_completed": int(result.get("epochs_completed") or 0),
            "artifacts": artifacts,
            "raw": result,
        },
    )


def early_stop_reason(result: dict[str, Any]) -> str:
    """The plain-words reason of a DARTS-ES stop, from the engine's result."""
    info = result.get("early_stop") if isinstance(result, dict) else None
    if isinstance(info, dict) and isinstance(info.get("reason"), str) and info["reason"]:
        return info["reason"][:5000]
    return "the search stopped early (DARTS-ES) and returned an earlier architecture"


def hand_back(experiment_id: int, dispatch: int, worker: str) -> str | None:
    """Put a run this stopping worker ended at a step back on the queue, to resume from its checkpoint on the next
    worker: queued again under a new dispatch number (the old message is acknowledged when the task returns) and sent
    at once, not after the broker's visibility timeout. The start does not count as a lost attempt. None when the run
    was cancelled meanwhile (the caller records the cancel); "superseded" when it is no longer this task's.

    If the queue cannot be reached the run is left running with a stale heartbeat, so the reaper of a live worker
    requeues it when the broker is back."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().filter(pk=experiment_id).first()
        if exp is None or exp.dispatch != dispatch or exp.status != Status.RUNNING or exp.worker != worker:
            return "superseded"
        if exp.cancel_requested:
            return None
        exp.status = Status.QUEUED
        exp.dispatch += 1
        exp.attempts = max(0, exp.attempts - 1)
        exp.worker = ""
        exp.save(update_fields=["status", "dispatch", "attempts", "worker"])
    try:
        send_run(exp)
    except BrokerUnavailable:
        log.warning("experiment %s: the task queue cannot be reached to hand the run back; the reaper will", exp.pk)
        Experiment.objects.filter(pk=exp.pk, dispatch=exp.dispatch, status=Status.QUEUED).update(
            status=Status.RUNNING, worker=worker, heartbeat_at=timezone.now() - timedelta(days=1))
        return "lost"
    log.info("experiment %s: worker %s is stopping; handed the run back as dispatch %s", exp.pk, worker, exp.dispatch)
    return "handed back"


def _pass_on(experiment_id: int, dispatch: int) -> str:
    """A message delivered to a stopping worker before it claimed it: send it again for the next worker."""
    exp = Experiment.objects.filter(pk=experiment_id, dispatch=dispatch, status=Status.QUEUED).first()
    if exp is None:
        return "skipped"
    try:
        send_run(exp)
    except BrokerUnavailable:
        return "skipped"
    return "passed on"


def run_dispatched(experiment_id: int, dispatch: int, worker: str | None = None) -> str:
    """The body of the Celery task: claim the run, run the engine with a DB sink, record the end."""
    worker = worker or socket.gethostname()
    if worker_stop.requested():  # delivered while this worker stops: leave it to the next one
        return _pass_on(experiment_id, dispatch)
    exp = claim_run(experiment_id, dispatch, worker)
    if exp is None:
        return "skipped"
    try:
        from nascore.runner import SearchFailed, run_search
    except ImportError as exc:
        _fail(exp.pk, dispatch, f"this worker cannot load the search engine: {exc}")
        return "failed"
    out_dir = artifact_dir(exp)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not (out_dir / "checkpoint.pt").exists():
        # nothing to resume from: a fresh start renumbers from 1, so drop an old attempt's events
        if Event.objects.filter(experiment=exp).delete()[0]:
            Experiment.objects.filter(pk=exp.pk).update(history_rev=F("history_rev") + 1)
        Experiment.objects.filter(pk=exp.pk).update(epochs_done=0, step=0, last_seq=0, best_val_acc=None, last_val_acc=None, seconds_per_epoch=None)
    heartbeat = Heartbeat(exp.pk, dispatch, settings.NASBOARD_HEARTBEAT_SECONDS)
    heartbeat.start()

    def is_current() -> bool:
        return not heartbeat.superseded

    def stop_check() -> bool:
        if heartbeat.superseded or worker_stop.requested():
            return True
        return retrying(lambda: Experiment.objects.filter(pk=exp.pk, cancel_requested=True).exists(),
                        f"experiment {exp.pk}: the cancel check")

    sink = DatabaseSink(exp.pk, is_current)
    config = {**as_stored(exp.config), "data_dir": str(settings.NASBOARD_DATA_DIR),
              "benchmark_dir": str(settings.NASBOARD_BENCHMARK_DIR)}
    try:
        try:
            if exp.kind == Kind.RETRAIN:
                from webapp.experiments.services.retrain import run_retrain

                outcome = run_retrain(exp, out_dir, sink, stop_check)
            else:
                outcome = run_search(config, out_dir, sinks=[sink], stop_check=stop_check, resume=True)
        except SearchFailed as exc:
            if is_current():
                _fail(exp.pk, dispatch, str(exc) or "the search failed")
            return "failed"
        except ConfigError as exc:
            if is_current():
                _fail(exp.pk, dispatch, "the engine refused the config: " + "; ".join(f"{k}: {v}" for k, v in exc.errors.items()))
            return "failed"
        except Exception as exc:
            log.exception("experiment %s crashed", exp.pk)
            if is_current():
                _fail(exp.pk, dispatch, f"{type(exc).__name__}: {exc}")
            return "failed"
        if not is_current():
            return "superseded"
        if outcome.status == "cancelled" and worker_stop.requested():
            handed = hand_back(exp.pk, dispatch, worker)
            if handed:
                return handed
        stop_reason = ""
        if outcome.status in ("finished", "stopped_early"):
            if exp.kind == Kind.RETRAIN:
                from webapp.experiments.services.retrain import save_retrain_result

                retrying(lambda: save_retrain_result(exp, outcome.result or {}, out_dir), f"experiment {exp.pk}: result")
            else:
                retrying(lambda: _save_result(exp, outcome.result or {}, out_dir), f"experiment {exp.pk}: result")
            status = Status.FINISHED if outcome.status == "finished" else Status.STOPPED_EARLY
            if status == Status.STOPPED_EARLY:
                stop_reason = early_stop_reason(outcome.result or {})
        else:
            status = Status.CANCELLED
        retrying(lambda: Experiment.objects.filter(pk=exp.pk, dispatch=dispatch).update(
            status=status, ended_at=timezone.now(), cancel_requested=False, stop_reason=stop_reason
        ), f"experiment {exp.pk}: its end")
        live_push.publish(exp.pk, 0)  # the run's streams see it has ended and close
        return str(status)
    finally:
        heartbeat.stop()
