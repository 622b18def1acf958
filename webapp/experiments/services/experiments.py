"""Domain actions on experiments: create, cancel, resume, queue, requeue lost runs.

Views, the API and the admin all come here, so every rule (limits, allowed transitions) lives in one place; what
a worker does with a delivered run is :mod:`webapp.experiments.services.runs`.
"""
from __future__ import annotations

import logging
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from nascore.config import ConfigError, defaults, validate_config
from nascore.spaces import is_document_path
from webapp.experiments.models import (
    ACTIVE_STATUSES,
    RESUMABLE_STATUSES,
    Experiment,
    Kind,
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
    if isinstance(raw.get("space"), str) and is_document_path(raw["space"]):
        # the engine reads a document path from its own disk; a web request names a built-in or a saved space
        errors["space"] = (f"{raw['space']!r} is a file path; on the dashboard a space is a built-in or a saved space "
                           "(save the document on the Spaces page, then name it)")
        raw.pop("space")
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
        problem = _user_dataset_problem(cfg["dataset"])
        if problem:
            errors["dataset"] = problem
        if cfg["batch_size"] > settings.NASBOARD_MAX_BATCH_SIZE:
            errors["batch_size"] = (
                f"the batch size may be at most {settings.NASBOARD_MAX_BATCH_SIZE} on this server, not {cfg['batch_size']}"
            )
    if errors:
        raise ExperimentInvalid(errors)
    assert cfg is not None
    from webapp.experiments.services.spaces import pin

    cfg["space"] = pin(cfg["space"])  # a saved space's version is fixed when the run is created
    cfg.pop("data_dir", None)
    cfg.pop("benchmark_dir", None)
    return cfg


def _user_dataset_problem(name: str) -> str | None:
    """Why the workers cannot read the user dataset ``name`` (``folder:NAME``) from NASBOARD_DATA_DIR, or None; a
    built-in name is the engine validator's business. Only the folder is looked for: reading its images is the run's."""
    from nascore.userdata import is_user_name, locate

    if not is_user_name(name):
        return None
    try:
        locate(name, settings.NASBOARD_DATA_DIR)
    except ValueError as exc:
        return f"{exc} (the server's data folder)"
    return None


def _table_budget_problem(cfg: dict[str, Any]) -> str | None:
    """Why a table search is too large for this server (``NASBOARD_MAX_TABLE_QUERIES`` queries in all), or None.

    A time budget is counted at its worst: every query the table's fastest-training cell, so no run can exceed it."""
    limit = settings.NASBOARD_MAX_TABLE_QUERIES
    if cfg["budget_unit"] != "seconds":
        if cfg["runs"] * cfg["budget"] > limit:
            return f"a table search may make at most {limit:,} queries on this server (runs x budget), not {cfg['runs']} x {cfg['budget']}"
        return None
    from nascore.benchmarks import find_table
    from nascore.benchmarks.search import query_costs

    table = find_table(cfg["space"], cfg["dataset"], str(settings.NASBOARD_BENCHMARK_DIR))
    if table is None:  # validate_config has said why already
        return None
    fastest = float(query_costs(table, cfg["query_cost"]).min())
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


#: the Celery task that runs an experiment (webapp.experiments.tasks), sent by name: queueing needs no worker code
RUN_TASK = "experiments.run_experiment"
#: the Celery task that runs an HPO study's trials (services/studies.py): a study is sent as several of them
STUDY_TASK = "experiments.run_study_trials"


def study_task_count(experiment: Experiment) -> int:
    """How many trial tasks a study is sent as: one per trial it still needs, at most NASBOARD_STUDY_TASKS (each
    task keeps taking trials until the study needs none, so this is how many workers may share it)."""
    return max(1, min(experiment.epochs - experiment.epochs_done, settings.NASBOARD_STUDY_TASKS))


def _send(experiment: Experiment, copies: int | None = None) -> None:
    """Put the run on its queue (a study: its trial tasks, ``copies`` of them if given); a broker that cannot be
    reached becomes BrokerUnavailable."""
    from celery import (
        current_app,  # the project's app (webapp/__init__.py loads it), without importing its module
    )

    study = experiment.kind == Kind.STUDY
    try:
        for _ in range(copies or study_task_count(experiment) if study else 1):
            current_app.send_task(
                STUDY_TASK if study else RUN_TASK,
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


def artifact_dir(experiment: Experiment | int) -> Path:
    pk = experiment if isinstance(experiment, int) else experiment.pk
    return Path(settings.NASBOARD_ARTIFACT_DIR) / f"experiment-{pk}"


def requeue_lost_runs() -> list[int]:
    """Requeue running experiments whose heartbeat went silent (their worker vanished).

    A study's heartbeat is beaten by each of its running trials: silent, every task of it was lost (a restart of
    everything, or its workers killed), and it is sent again; its trial tasks retry the lost trials."""
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
