"""Domain actions on experiments: create, cancel, resume, run on a worker, requeue lost runs.

Views, the API, the admin and the Celery task all come here, so every rule (limits,
allowed transitions, idempotent delivery) lives in one place.
"""
from __future__ import annotations

import logging
import math
import socket
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from nascore.config import ConfigError, defaults, validate_config
from webapp.experiments.models import (
    ACTIVE_STATUSES,
    RESUMABLE_STATUSES,
    Event,
    Experiment,
    Kind,
    Result,
    Status,
)

log = logging.getLogger("nasboard.experiments")

#: settings a user may not choose: the worker decides where data lives
SERVER_FIELDS = {"data_dir": "is set by the server (NASBOARD_DATA_DIR); leave it out",
                 "benchmark_dir": "is set by the server (NASBOARD_BENCHMARK_DIR); leave it out"}
#: devices a run may ask for; each selects a queue (see queue_for)
DEVICES = ("auto", "cpu", "cuda")


class ExperimentInvalid(Exception):
    """Input that cannot become (or act on) an experiment; ``errors`` maps field to message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class ActionRefused(Exception):
    """An action that does not apply to the experiment in its current state."""


class BrokerUnavailable(Exception):
    """The task queue could not be reached; nothing was changed."""


# ---- validation ---------------------------------------------------------------------------
def clean_config(config: Any) -> dict[str, Any]:
    """The full engine config for ``config`` (defaults filled in), or ExperimentInvalid naming every problem."""
    if not isinstance(config, dict):
        raise ExperimentInvalid({"config": f"must be a JSON object of settings, not {type(config).__name__}"})
    errors: dict[str, str] = {}
    for key, message in SERVER_FIELDS.items():
        if key in config:
            errors[key] = f"{key} {message}"
    raw = {k: v for k, v in config.items() if k not in SERVER_FIELDS}
    raw["benchmark_dir"] = str(settings.NASBOARD_BENCHMARK_DIR)  # a table search needs the server's table
    # The web server needs no GPU: a CUDA run goes to a GPU worker, so this machine's
    # hardware is not checked here (check_device=False), only the device's name.
    device = raw.get("device", defaults()["device"])
    if device not in DEVICES:
        errors["device"] = f"unknown device {device!r}; choose one of: {', '.join(DEVICES)} (a GPU worker is pinned to its own GPU)"
    try:
        cfg = validate_config(raw, check_device=False).to_dict()
    except ConfigError as exc:
        errors.update({str(k): str(v) for k, v in exc.errors.items() if k not in errors})
        cfg = None
    if cfg is not None:
        if cfg["epochs"] > settings.NASBOARD_MAX_EPOCHS:
            errors["epochs"] = f"at most {settings.NASBOARD_MAX_EPOCHS} epochs are allowed on this server, not {cfg['epochs']}"
        if cfg["evaluator"] == "table":
            problem = _table_budget_problem(cfg)
            if problem:
                errors["budget"] = problem
        if cfg["batch_size"] > settings.NASBOARD_MAX_BATCH_SIZE:
            errors["batch_size"] = (
                f"the batch size may be at most {settings.NASBOARD_MAX_BATCH_SIZE} on this server, not {cfg['batch_size']}"
            )
    if errors:
        raise ExperimentInvalid(errors)
    assert cfg is not None
    cfg.pop("data_dir", None)
    cfg.pop("benchmark_dir", None)
    return cfg


def _table_budget_problem(cfg: dict[str, Any]) -> str | None:
    """Why a table search is too large for this server (``NASBOARD_MAX_TABLE_QUERIES`` queries in all), or None.

    A time budget is counted at its worst: every query the table's fastest-training cell, so no run can exceed it."""
    limit = settings.NASBOARD_MAX_TABLE_QUERIES
    if cfg["budget_unit"] != "seconds":
        if cfg["runs"] * cfg["budget"] > limit:
            return f"a table search may make at most {limit:,} queries on this server (runs x budget), not {cfg['runs']} x {cfg['budget']}"
        return None
    from nascore.benchmarks import find_table
    from nascore.benchmarks.search import COST_METRIC

    table = find_table(cfg["space"], cfg["dataset"], str(settings.NASBOARD_BENCHMARK_DIR))
    if table is None:  # validate_config has said why already
        return None
    fastest = float(table.metric(COST_METRIC).min())
    if fastest <= 0:
        return ("the imported table has cells whose training time is 0 s, so a budget in seconds cannot bound a run; "
                "give the budget in queries")
    per_run = math.ceil(cfg["budget"] / fastest)
    if cfg["runs"] * per_run > limit:
        return (f"a table search may make at most {limit:,} queries on this server; {cfg['budget']:,} simulated seconds "
                f"allow up to {per_run:,} queries per run (the fastest cell trains in {fastest:,.0f} s), "
                f"x {cfg['runs']} runs = {cfg['runs'] * per_run:,}")
    return None


def clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ExperimentInvalid({"name": "give the experiment a name"})
    name = name.strip()
    if len(name) > 200:
        raise ExperimentInvalid({"name": f"the name may have at most 200 characters, not {len(name)}"})
    return name


def check_run_limit(user: Any, exclude_id: int | None = None) -> None:
    """Refuse a new or resumed run when the user already has the allowed number queued or running."""
    limit = settings.NASBOARD_MAX_CONCURRENT_RUNS
    active = Experiment.objects.filter(owner=user, status__in=ACTIVE_STATUSES)
    if exclude_id is not None:
        active = active.exclude(pk=exclude_id)
    count = active.count()
    if count >= limit:
        raise ExperimentInvalid(
            {"limit": f"you already have {count} runs queued or running (the limit is {limit}); wait for one to end or cancel one"}
        )


def queue_for(device: str) -> str:
    """The Celery queue for a requested device: cuda → gpu workers, cpu → cpu workers."""
    kind = {"cuda": "gpu", "cpu": "cpu"}.get(device, settings.NASBOARD_AUTO_QUEUE)
    return settings.NASBOARD_QUEUE_PREFIX + kind


# ---- actions ----------------------------------------------------------------------------
def create_experiment(user: Any, name: Any, config: Any) -> Experiment:
    """Validate, store and queue a run; on any problem nothing is stored."""
    errors: dict[str, str] = {}
    try:
        name = clean_name(name)
    except ExperimentInvalid as exc:
        errors.update(exc.errors)
    try:
        cfg = clean_config(config)
    except ExperimentInvalid as exc:
        errors.update(exc.errors)
    if errors:
        raise ExperimentInvalid(errors)
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()  # serialise a user's creations
        check_run_limit(user)
        experiment = Experiment.objects.create(
            owner=user,
            name=name,
            config=cfg,
            space=cfg["space"],
            optimizer=cfg["optimizer"],
            dataset=cfg["dataset"],
            seed=cfg["seed"],
            device_requested=cfg["device"],
            queue=queue_for(cfg["device"]),
            epochs=cfg["epochs"],
            dispatch=1,
        )
    try:
        _send(experiment)
    except BrokerUnavailable:
        experiment.delete()
        raise
    return experiment


def cancel_experiment(experiment: Experiment) -> Experiment:
    """A queued run is cancelled at once; a running one is asked to stop and stops within a step."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if exp.status == Status.QUEUED:
            exp.status = Status.CANCELLED
            exp.ended_at = timezone.now()
            exp.save(update_fields=["status", "ended_at"])
        elif exp.status == Status.RUNNING:
            exp.cancel_requested = True
            exp.save(update_fields=["cancel_requested"])
        else:
            raise ActionRefused(f"experiment #{exp.pk} is {exp.status}; only a queued or running run can be cancelled")
    return exp


def resume_experiment(experiment: Experiment) -> Experiment:
    """Queue a cancelled or failed run again; the worker continues from its last checkpoint."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if exp.status not in RESUMABLE_STATUSES:
            raise ActionRefused(f"experiment #{exp.pk} is {exp.status}; only a cancelled or failed run can be resumed")
        check_run_limit(exp.owner, exclude_id=exp.pk)
        previous = {f: getattr(exp, f) for f in ("status", "error", "ended_at", "attempts", "cancel_requested", "worker")}
        exp.status = Status.QUEUED
        exp.error = ""
        exp.ended_at = None
        exp.attempts = 0
        exp.cancel_requested = False
        exp.worker = ""
        exp.dispatch += 1
        exp.save()
    try:
        _send(exp)
    except BrokerUnavailable:
        Experiment.objects.filter(pk=exp.pk).update(**previous)
        raise
    return exp


def _send(experiment: Experiment) -> None:
    """Put the run on its queue; a broker that cannot be reached becomes BrokerUnavailable."""
    from webapp.experiments.tasks import run_experiment

    try:
        run_experiment.apply_async(
            args=[experiment.pk, experiment.dispatch],
            queue=experiment.queue,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception as exc:  # kombu raises several kinds for an unreachable broker
        log.error("could not queue experiment %s: %s", experiment.pk, exc)
        raise BrokerUnavailable(f"the task queue cannot be reached ({exc}); nothing was changed, try again later") from exc


#: the public name for other action modules (retrain) that queue runs the same way
send_run = _send


# ---- running on a worker ----------------------------------------------------------------
def artifact_dir(experiment: Experiment | int) -> Path:
    pk = experiment if isinstance(experiment, int) else experiment.pk
    return Path(settings.NASBOARD_ARTIFACT_DIR) / f"experiment-{pk}"


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
        if exp is None or exp.dispatch != dispatch:
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


def requeue_lost_runs() -> list[int]:
    """Requeue running experiments whose heartbeat went silent (their worker vanished)."""
    cutoff = timezone.now() - timedelta(seconds=settings.NASBOARD_HEARTBEAT_TIMEOUT)
    requeued: list[int] = []
    for pk in Experiment.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            exp = Experiment.objects.select_for_update().filter(pk=pk, status=Status.RUNNING, heartbeat_at__lt=cutoff).first()
            if exp is None:
                continue
            if exp.attempts >= settings.NASBOARD_MAX_ATTEMPTS:
                exp.status = Status.FAILED
                exp.error = (
                    f"worker {exp.worker or '?'} stopped answering and the run was already started {exp.attempts} times; "
                    f"gave up (NASBOARD_MAX_ATTEMPTS={settings.NASBOARD_MAX_ATTEMPTS})"
                )
                exp.ended_at = timezone.now()
                exp.save()
                continue
            log.warning("experiment %s: worker %s silent since %s, requeueing", pk, exp.worker, exp.heartbeat_at)
            exp.status = Status.QUEUED
            exp.dispatch += 1
            exp.save()
        try:
            _send(exp)
            requeued.append(pk)
        except BrokerUnavailable:
            # leave it queued with the new dispatch; mark it so the owner knows
            Experiment.objects.filter(pk=pk).update(error="its worker was lost and the task queue could not be reached to requeue it")
    return requeued


def _jsonable(value: Any) -> Any:
    """Event data as strict JSON: NaN and infinities become null (PostgreSQL rejects them)."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if hasattr(value, "__float__"):
        return _jsonable(float(value))
    return str(value)


jsonable = _jsonable

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
        data = _jsonable(dict(event))
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

    def truncate_after(self, seq: int) -> None:
        if not self.is_current():
            return
        with transaction.atomic():
            dropped, _ = Event.objects.filter(experiment_id=self.experiment_id, seq__gt=seq).delete()
            self._load_epochs()
            updates: dict[str, Any] = {"last_seq": seq, **self._summary()}
            if dropped:
                updates["history_rev"] = F("history_rev") + 1
            Experiment.objects.filter(pk=self.experiment_id).update(**updates)


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
    result = _jsonable(result)
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


def run_dispatched(experiment_id: int, dispatch: int, worker: str | None = None) -> str:
    """The body of the Celery task: claim the run, run the engine with a DB sink, record the end."""
    worker = worker or socket.gethostname()
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
        if heartbeat.superseded:
            return True
        return Experiment.objects.filter(pk=exp.pk, cancel_requested=True).exists()

    sink = DatabaseSink(exp.pk, is_current)
    config = {**exp.config, "data_dir": str(settings.NASBOARD_DATA_DIR),
              "benchmark_dir": str(settings.NASBOARD_BENCHMARK_DIR)}
    try:
        try:
            if exp.kind == Kind.RETRAIN:
                from webapp.experiments.retrain import run_retrain

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
        stop_reason = ""
        if outcome.status in ("finished", "stopped_early"):
            if exp.kind == Kind.RETRAIN:
                from webapp.experiments.retrain import save_retrain_result

                save_retrain_result(exp, outcome.result or {}, out_dir)
            else:
                _save_result(exp, outcome.result or {}, out_dir)
            status = Status.FINISHED if outcome.status == "finished" else Status.STOPPED_EARLY
            if status == Status.STOPPED_EARLY:
                stop_reason = early_stop_reason(outcome.result or {})
        else:
            status = Status.CANCELLED
        Experiment.objects.filter(pk=exp.pk, dispatch=dispatch).update(
            status=status, ended_at=timezone.now(), cancel_requested=False, stop_reason=stop_reason
        )
        return str(status)
    finally:
        heartbeat.stop()
