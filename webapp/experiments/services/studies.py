"""HPO studies on the dashboard: create, cancel, resume, delete, and what a worker does with a study's trial task.

A study is an Experiment of kind ``study`` whose trials live in Optuna's tables of the same database
(:mod:`.optuna_storage`).  It is sent as a few trial tasks (``experiments.study_task_count``) on the queue its device
selects; every task that arrives joins the study and takes trials one after another until the study needs no more,
so as many workers as are free (up to the number of tasks) share it.  Whether a trial is still needed is decided
under a row lock on the Experiment, so the tasks never run more than ``trials`` trials between them.

Lost workers (the policy): a running trial beats Optuna's heartbeat every NASBOARD_TRIAL_HEARTBEAT_SECONDS and the
study's ``heartbeat_at``.  A trial silent for NASBOARD_TRIAL_GRACE_SECONDS was lost with its worker: the next task
that looks for a trial marks it FAILED and Optuna queues it again as a new WAITING trial with the same parameters,
which is taken before any new one.  A lost trial is retried once, then it stays failed (and counts as one of the
study's trials).  When every task of a running study is lost (its ``heartbeat_at`` goes silent), the reaper sends
the study again (``experiments.requeue_lost_runs``), as it does a run, and the new tasks retry the lost trials.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django import conf
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from nascore.config import ConfigError
from nascore.spaces import is_document_path
from webapp.experiments import worker_stop
from webapp.experiments.models import ACTIVE_STATUSES, Experiment, Kind, Result, Status
from webapp.experiments.services import experiments
from webapp.experiments.services import optuna_storage as storage
from webapp.experiments.services.json_values import jsonable
from webapp.experiments.services.study_results import best_final, worker_settings

log = logging.getLogger("nasboard.studies")

#: study settings a web request may not give: the server decides which of its files a worker reads
SERVER_FIELDS = {
    "data_dir": "is set by the server (NASBOARD_DATA_DIR); leave it out",
    "config": "is a file on the server: the dashboard does not read server files for a study (problem config runs "
              "from the command line)",
}
#: how often a running trial looks at the database for a cancel
CANCEL_CHECK_SECONDS = 0.5


class StudyInvalid(experiments.ExperimentInvalid):
    """Study settings that cannot become a study; ``errors`` maps field to message."""


# ---- validation --------------------------------------------------------------------------------------------------
#: where a config study's base config (its parent search's) is kept, in the study's artifact folder
BASE_CONFIG = "base-config.json"


def clean_settings(raw: Any, parent: Experiment | None = None) -> dict[str, Any]:
    """The full study settings for ``raw`` (defaults filled in, server fields left out), or StudyInvalid naming every
    problem: the engine's checks, file paths a web request may not name, and this server's limits.  Problem
    ``config`` tunes the settings of ``parent``, a search: its stored config is the base (``config`` is then the
    server's own copy, written by :func:`create_study`)."""
    import tempfile

    from nascore.hpo.study import validate_study

    if not isinstance(raw, Mapping):
        raise StudyInvalid({"settings": f"must be a JSON object of settings, not {type(raw).__name__}"})
    errors: dict[str, str] = {}
    given = dict(raw)
    for key, message in SERVER_FIELDS.items():
        if key in given:
            errors[key] = f"{key} {message}"
            given.pop(key)
    if isinstance(given.get("space"), str) and is_document_path(given["space"]):
        errors["space"] = (f"{given['space']!r} is a file path; on the dashboard a space is a built-in or a saved space "
                           "(save the document on the Spaces page, then name it)")
        given.pop("space")
    if isinstance(given.get("genotype"), str) and is_document_path(given["genotype"]):
        errors["genotype"] = (f"{given['genotype']!r} is a file path; give a published architecture's name or the "
                              "genotype itself as JSON")
        given.pop("genotype")
    if "device" in given and given["device"] not in experiments.DEVICES:
        errors["device"] = (f"unknown device {given['device']!r}; choose one of: {', '.join(experiments.DEVICES)} "
                            "(a GPU worker is pinned to its own GPU)")
        given.pop("device")
    given["data_dir"] = str(conf.settings.NASBOARD_DATA_DIR)
    cfg: dict[str, Any] | None = None
    with tempfile.TemporaryDirectory(prefix="nasboard-study-") as folder:
        if given.get("problem") == "config":
            if parent is None or parent.kind != Kind.SEARCH:
                errors["parent"] = ("problem config tunes the settings of a search: start it from the search's page "
                                    "(Tune this search's settings), which names it as the parent")
            else:
                given["config"] = str(Path(folder) / BASE_CONFIG)
                Path(given["config"]).write_text(json.dumps(parent.config))
        try:
            cfg = validate_study(given)
        except ConfigError as exc:
            errors.update({str(k): str(v) for k, v in exc.errors.items() if k not in errors})
    if cfg is not None and cfg["max_epochs"] > conf.settings.NASBOARD_MAX_EPOCHS:
        errors["max_epochs"] = (f"at most {conf.settings.NASBOARD_MAX_EPOCHS} epochs are allowed on this server, not "
                                f"{cfg['max_epochs']}")
    if errors:
        raise StudyInvalid(errors)
    assert cfg is not None
    if cfg.get("space"):
        from webapp.experiments.services.spaces import pin

        cfg["space"] = pin(cfg["space"])  # a saved space's version is fixed when the study is created
    cfg.pop("data_dir", None)
    return cfg


def study_dataset(cfg: Mapping[str, Any], parent: Experiment | None = None) -> str:
    """The dataset a study reads: the one named, else its problem's default; a config study's is its search's."""
    from nascore.hpo.study import study_dataset as engine_default

    if cfg["problem"] == "config" and parent is not None:
        return parent.dataset
    return engine_default(cfg)


def study_device(cfg: Mapping[str, Any], parent: Experiment | None = None) -> str:
    """The device a study's trials ask for: a table's tiny networks train on a CPU worker."""
    if cfg["problem"] == "tabular":
        return "cpu"
    if cfg["problem"] == "config" and parent is not None:  # the search's own device
        return parent.device_requested or "auto"
    return str(cfg.get("device") or "auto")


def default_name(cfg: Mapping[str, Any], parent: Experiment | None = None) -> str:
    if parent is not None:
        return f"HPO {cfg['problem']} of #{parent.pk} {parent.name}"[:200]
    return f"HPO {cfg['problem']} {study_dataset(cfg)}".strip()


# ---- actions -----------------------------------------------------------------------------------------------------
def create_study(owner: Any, settings: Mapping[str, Any], parent: Experiment | None = None,
                 name: str = "") -> Experiment:
    """Validate, store and send a study; on any problem (bad settings, the owner's run limit, the task queue down)
    nothing is stored, neither the Experiment nor its Optuna study."""
    from django.contrib.auth import get_user_model

    errors: dict[str, str] = {}
    cfg: dict[str, Any] | None = None
    try:
        cfg = clean_settings(settings, parent)
    except StudyInvalid as exc:
        errors.update(exc.errors)
    if name:
        try:
            name = experiments.clean_name(name)
        except experiments.ExperimentInvalid as exc:
            errors.update(exc.errors)
    if errors:
        raise StudyInvalid(errors)
    assert cfg is not None
    device = study_device(cfg, parent)
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=owner.pk).first()  # serialise a user's creations
        experiments.check_run_limit(owner)
        exp = Experiment.objects.create(
            owner=owner, name=name or default_name(cfg, parent), kind=Kind.STUDY, parent=parent, config=jsonable(cfg),
            space=str(cfg.get("space") or "")[:50], optimizer=f"hpo:{cfg['sampler']}"[:50],
            dataset=study_dataset(cfg, parent)[:50], seed=cfg["seed"], device_requested=device,
            queue=experiments.queue_for(device), epochs=cfg["trials"], dispatch=1,
        )
    try:
        if cfg["problem"] == "config":  # the base config where every worker reads it (the shared artifact folder)
            assert parent is not None
            base = experiments.artifact_dir(exp) / BASE_CONFIG
            base.parent.mkdir(parents=True, exist_ok=True)
            base.write_text(json.dumps(parent.config))
            exp.config = {**exp.config, "config": str(base)}
            exp.save(update_fields=["config"])
        # a stale study of this name: Django's tables were emptied (a test flush, a restore) and ids came round again
        # while Optuna's tables kept an old study
        storage.delete_study(exp)
        storage.load_study(exp)
        experiments.send_run(exp)
    except Exception:
        exp.delete()  # its post_delete drops the Optuna study too
        raise
    return exp


def check_study(experiment: Experiment) -> None:
    if experiment.kind != Kind.STUDY:
        raise experiments.ActionRefused(f"experiment #{experiment.pk} is a {experiment.kind}, not an HPO study")


def cancel_study(experiment: Experiment) -> Experiment:
    """A queued study is cancelled at once; a running one is asked to stop: its running trials stop within a
    training step (told PRUNED with the epochs they ran), and it is cancelled when none runs any more."""
    check_study(experiment)
    return experiments.cancel_experiment(experiment)


def resume_study(experiment: Experiment) -> Experiment:
    """Send a cancelled or failed study again: its ended trials are kept (a lost trial's WAITING retry is run first)
    and it continues until it has ``trials`` of them."""
    check_study(experiment)
    return experiments.resume_experiment(experiment)


def delete_optuna_study(sender: Any, instance: Experiment, **_: Any) -> None:
    """post_delete of an Experiment: a study's trials go with it (connected in apps.py)."""
    if instance.kind == Kind.STUDY:
        try:
            storage.delete_study(instance)
        except Exception:  # the experiment is gone either way; an orphaned Optuna study is only disk space
            log.exception("could not delete the Optuna study of experiment %s", instance.pk)


# ---- the worker's side -------------------------------------------------------------------------------------------
@dataclass
class Step:
    """What a trial task does next: run ``trial``, ``wait`` for a lost trial's grace to end, or stop (``what``: why)."""

    what: str
    trial: Any = None


def counted_trials(trials: list[Any]) -> list[Any]:
    """The trials that count towards ``trials``: all of them but the lost ones a retry replaced."""
    replaced = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return [t for t in trials if t.number not in replaced]


def _join(experiment_id: int, worker: str) -> Experiment | None:
    """The study a delivered task works for, or None when it needs no worker (ended, or gone).  A queued study
    becomes running; any number of tasks may join a running one (messages are not numbered for studies: an extra or
    duplicate task only finds no trial to take)."""
    now = timezone.now()
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().filter(pk=experiment_id, kind=Kind.STUDY).first()
        if exp is None or exp.status not in ACTIVE_STATUSES:
            return None
        if exp.status == Status.QUEUED:
            if exp.attempts >= conf.settings.NASBOARD_MAX_ATTEMPTS:
                exp.status, exp.ended_at = Status.FAILED, now
                exp.error = (f"the study was sent {exp.attempts} times and every worker of it was lost each time; "
                             f"gave up (NASBOARD_MAX_ATTEMPTS={conf.settings.NASBOARD_MAX_ATTEMPTS})")
                exp.save()
                return None
            exp.status = Status.RUNNING
            exp.attempts += 1
            exp.started_at = exp.started_at or now
        exp.worker = worker[:200]
        exp.heartbeat_at = now
        exp.save()
    return exp


@contextmanager
def study_lock(experiment_id: int) -> Iterator[Experiment | None]:
    """The study's lock, held while a task decides whether the study needs another trial and asks Optuna for it.

    PostgreSQL: the Experiment's row lock in a transaction (Optuna's writes, on its own connection, touch other rows).
    SQLite (``make run``, one machine): a lock on a file beside the study's artifacts, because a SQLite transaction
    that writes locks the whole database, and Optuna's own connection could not write until it ended."""
    if connection.vendor != "sqlite":
        with transaction.atomic():
            yield Experiment.objects.select_for_update().filter(pk=experiment_id).first()
        return
    import fcntl

    path = experiments.artifact_dir(experiment_id).parent / f".study-{experiment_id}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield Experiment.objects.filter(pk=experiment_id).first()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _next_step(experiment_id: int, study: Any, problem: Any, worker: str) -> Step:
    """Under the study's row lock: fail lost trials (Optuna queues their retry; one whose task was lost before its
    first heartbeat too), then take a trial if the study needs one, else wait for a lost one, else end the study
    (finished, failed or cancelled) if nothing runs."""
    import optuna
    from optuna.trial import TrialState

    with study_lock(experiment_id) as exp:
        if exp is None or exp.status not in ACTIVE_STATUSES:
            return Step("skipped")
        with warnings.catch_warnings():  # experimental in Optuna 5; it is what the lost-worker policy relies on
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            if storage.expire_unbeaten_trials(study):
                log.warning("study %s: a trial was asked for by a task lost before its first heartbeat; failing it",
                            experiment_id)
            optuna.storages.fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        running = [t for t in trials if t.state == TrialState.RUNNING]
        waiting = [t for t in trials if t.state == TrialState.WAITING]
        if not exp.cancel_requested and (waiting or len(counted_trials(trials)) < exp.config["trials"]):
            trial = study.ask()
            storage.storage().record_heartbeat(trial._trial_id)
            trial.set_user_attr("worker", worker[:200])  # which worker ran it (a retry: the worker that retried it)
            Experiment.objects.filter(pk=exp.pk).update(worker=worker[:200], heartbeat_at=timezone.now(),
                                                        status=Status.RUNNING)
            return Step("trial", trial)
        if running:
            # others' trials: their tasks end the study; a lost one is waited for until Optuna may fail it
            silent = storage.silent_trial_ids(study, 2 * storage.storage().heartbeat_interval)
            return Step("wait" if silent else "others")
        if exp.cancel_requested:
            Experiment.objects.filter(pk=exp.pk).update(status=Status.CANCELLED, cancel_requested=False,
                                                        ended_at=timezone.now())
            return Step("cancelled")
        return Step(_finalize(exp, study, problem))


def _finalize(exp: Experiment, study: Any, problem: Any) -> str:
    """Write result.json and the Result row (best value, params, trials, baselines), and end the study: finished, or
    failed when no trial ran to an end (every one failed; the first reason is the study's)."""
    from nascore.hpo.study import conclude

    seconds = round((timezone.now() - (exp.started_at or timezone.now())).total_seconds(), 2)
    summary = conclude(study, problem, worker_settings(exp))
    summary["seconds"] = seconds
    summary = jsonable(summary)
    genotype: Any = (summary.get("final") or {}).get("genotype") or {}
    out = experiments.artifact_dir(exp)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(summary, indent=2))
    Result.objects.update_or_create(experiment=exp, defaults={
        "genotype": jsonable(genotype), "val_acc": summary["best_value"], "best_val_acc": summary["best_value"],
        "test_acc": summary["best_test_acc"], "epochs_completed": summary["epochs"],
        "artifacts": {"result.json": str(out / "result.json")}, "raw": summary})
    states = summary["states"]
    ended = timezone.now()
    fields: dict[str, Any] = {"ended_at": ended, "epochs_done": len(counted_trials(study.get_trials(deepcopy=False))),
                              "best_val_acc": summary["best_value"], "cancel_requested": False}
    if states["complete"] + states["pruned"] == 0:
        first = next((t for t in summary["trials"] if t.get("error")), None)
        reason = f"; trial {first['number']}: {first['error']}" if first else ""
        Experiment.objects.filter(pk=exp.pk).update(
            status=Status.FAILED, error=f"every one of the {states['failed']} trials failed{reason}"[:5000], **fields)
        return "failed"
    Experiment.objects.filter(pk=exp.pk).update(status=Status.FINISHED, **fields)
    return "finished"


class TrialHeartbeat(threading.Thread):
    """Beats a running trial's Optuna heartbeat (every NASBOARD_TRIAL_HEARTBEAT_SECONDS) and the study's
    ``heartbeat_at`` (every NASBOARD_HEARTBEAT_SECONDS) until stopped."""

    def __init__(self, experiment_id: int, trial_id: int):
        super().__init__(name=f"trial-heartbeat-{experiment_id}-{trial_id}", daemon=True)
        self.experiment_id = experiment_id
        self.trial_id = trial_id
        self.trial_every = float(storage.storage().heartbeat_interval)
        self.study_every = float(conf.settings.NASBOARD_HEARTBEAT_SECONDS)
        self._stop_event = threading.Event()

    def run(self) -> None:
        rdb = storage.storage()
        next_trial = next_study = 0.0
        try:
            while True:
                now = time.monotonic()
                try:
                    if now >= next_trial:
                        rdb.record_heartbeat(self.trial_id)
                        next_trial = now + self.trial_every
                    if now >= next_study:
                        Experiment.objects.filter(pk=self.experiment_id).update(heartbeat_at=timezone.now())
                        next_study = now + self.study_every
                except Exception:  # a database hiccup: try again at the next beat
                    log.exception("heartbeat of study %s trial %s failed", self.experiment_id, self.trial_id)
                    close_old_connections()
                if self._stop_event.wait(max(0.05, min(next_trial, next_study) - time.monotonic())):
                    return
        finally:
            connection.close()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=self.trial_every + 5)


def cancel_check(experiment_id: int) -> Any:
    """The ``stop`` a trial's training calls after every step: true once the study is asked to stop (or ended, or
    deleted), read from the database at most every CANCEL_CHECK_SECONDS."""
    state = {"at": 0.0, "stop": False}

    def stop() -> bool:
        if worker_stop.requested():  # this worker is stopping: end the trial now (pruned at its last report)
            return True
        now = time.monotonic()
        if not state["stop"] and now - state["at"] >= CANCEL_CHECK_SECONDS:
            state["at"] = now
            row = Experiment.objects.filter(pk=experiment_id).values_list("cancel_requested", "status").first()
            state["stop"] = row is None or row[0] or row[1] not in ACTIVE_STATUSES
        return bool(state["stop"])

    return stop


def _run_one(exp: Experiment, study: Any, problem: Any, cfg: Mapping[str, Any], trial: Any) -> str:
    """Run one asked trial with its heartbeat; returns its end (complete, pruned, failed, or lost: it was failed
    as lost meanwhile, its heartbeat having lapsed, and its retry is another task's)."""
    import optuna
    from nascore.hpo.study import run_trial

    beat = TrialHeartbeat(exp.pk, trial._trial_id)
    beat.start()
    try:
        try:
            _, state = run_trial(study, problem, cfg, cancel_check(exp.pk), trial=trial)
        except optuna.exceptions.UpdateFinishedTrialError:
            log.warning("study %s: trial %s was failed as lost while it ran; dropped", exp.pk, trial.number)
            return "lost"
        except Exception as exc:  # anything but the training's own RuntimeError/ValueError: the trial failed
            log.exception("study %s: trial %s crashed", exp.pk, trial.number)
            try:
                trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:2000])
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass
            return "failed"
    finally:
        beat.stop()
    _record_progress(exp.pk, study, trial.number)
    return state


def _record_progress(experiment_id: int, study: Any, number: int) -> None:
    """The study's progress summary for list pages and the live page: trials ended, best and last value."""
    from optuna.trial import TrialState

    trials = counted_trials(study.get_trials(deepcopy=False))
    ended = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)]
    complete = [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    last = next((t for t in trials if t.number == number), None)
    last_value = None
    if last is not None:
        curve = [last.intermediate_values[e] for e in sorted(last.intermediate_values)]
        last_value = last.value if last.value is not None else (curve[-1] if curve else None)
    Experiment.objects.filter(pk=experiment_id, status__in=ACTIVE_STATUSES).update(
        epochs_done=len(ended), best_val_acc=max(complete) if complete else None, last_val_acc=last_value,
        heartbeat_at=timezone.now())


# ---- the best trial, retrained -----------------------------------------------------------------------------------
def retrain_best(exp: Experiment, owner: Any) -> Experiment:
    """Queue the stand-alone training of the best trial's architecture with the best trial's hyperparameters (a
    retrain whose parent is the study), at the stand-alone training's defaults otherwise (the study's small
    network was a proxy, as Auto-DispNet's BOHB budget was); ``owner`` may see the study (its view checked it)."""
    from webapp.experiments.services.retrain import create_retrain

    final = best_final(exp)
    return create_retrain(exp, {**final["train"], "seed": exp.seed, "device": exp.device_requested or "auto"})


def _fail(experiment_id: int, reason: str) -> None:
    Experiment.objects.filter(pk=experiment_id, status__in=ACTIVE_STATUSES).update(
        status=Status.FAILED, error=reason[:5000], ended_at=timezone.now(), cancel_requested=False)


def run_study_trials(experiment_id: int, worker: str) -> str:
    """The body of a study's trial task: join the study, then take trials until it needs none (a worker keeps
    working for the study rather than queueing a task per trial: a tabular trial takes about a second), or until
    NASBOARD_STUDY_TASK_SECONDS have passed: then it sends its successor and ends, so other work queued behind it gets
    its turn and a worker's warm shutdown waits for one trial, not the whole study.  Returns how the task ended:
    skipped (the study needs no worker), others (the last trials run elsewhere), handed over, finished, failed,
    cancelled."""
    from nascore.hpo.study import make_problem

    exp = _join(experiment_id, worker)
    if exp is None:
        return "skipped"
    cfg = worker_settings(exp)
    try:
        problem = make_problem(cfg, experiments.artifact_dir(exp))
        study = storage.load_study(exp)
    except Exception as exc:  # a missing table, a dataset that cannot load: the study cannot run anywhere like this
        log.exception("study %s cannot start", exp.pk)
        reason = "; ".join(f"{k}: {v}" for k, v in exc.errors.items()) if isinstance(exc, ConfigError) else str(exc)
        _fail(exp.pk, f"the study's problem cannot be set up on worker {worker}: {type(exc).__name__}: {reason}")
        return "failed"
    wait = float(storage.storage().heartbeat_interval)
    began = time.monotonic()
    while True:
        if worker_stop.requested():  # take no more trials; another worker carries on with the study
            return _hand_over(exp)
        try:
            step = _next_step(exp.pk, study, problem, worker)
        except Exception as exc:
            log.exception("study %s failed", exp.pk)
            _fail(exp.pk, f"{type(exc).__name__}: {exc}")
            return "failed"
        if step.what == "trial":
            _run_one(exp, study, problem, cfg, step.trial)
            if time.monotonic() - began >= conf.settings.NASBOARD_STUDY_TASK_SECONDS:
                return _hand_over(exp)
        elif step.what == "wait":
            Experiment.objects.filter(pk=exp.pk, status__in=ACTIVE_STATUSES).update(heartbeat_at=timezone.now())
            time.sleep(wait)
        else:
            return step.what



def _hand_over(exp: Experiment) -> str:
    """Send one task to take over from this one (it ends the study if no trial is left)."""
    try:
        experiments.send_run(exp, copies=1)
    except experiments.BrokerUnavailable:
        # the study's heartbeat goes silent without this task, and the reaper sends it again
        log.warning("study %s: the task queue cannot be reached to hand over; the reaper will resend it", exp.pk)
    return "handed over"
