"""Optuna's storage for the dashboard's studies: Optuna's own tables in the database Django uses (PostgreSQL in a
deployment, SQLite under ``make run``), so every worker and the web server see one study, and a study survives a
restart of everything.

A trial's worker beats a heartbeat into the storage; a trial whose heartbeat stops for ``grace_period`` seconds (its
worker was lost) is marked failed by the next worker that asks for a trial, and retried once with the same
parameters as a new trial (Optuna's ``RetryHeartbeatStaleTrialCallback``), never silently lost.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection

if TYPE_CHECKING:
    from webapp.experiments.models import Experiment

#: a lost trial is retried this many times (as a new trial with its parameters), then it stays failed
LOST_TRIAL_RETRIES = 1


def storage_url() -> str:
    """The SQLAlchemy URL of Django's default database (the test database while tests run)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql+psycopg://{auth}{db.get('HOST') or ''}{port}/{db['NAME']}"


@lru_cache(maxsize=4)
def _storage(url: str, heartbeat: int, grace: int) -> Any:
    import warnings

    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # heartbeats and their retry callback are marked experimental in Optuna 5; they are what we rely on
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
    engine_kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        engine_kwargs = {"connect_args": {"timeout": 30}}
    return RDBStorage(url, engine_kwargs=engine_kwargs, heartbeat_interval=heartbeat, grace_period=grace,
                      heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=LOST_TRIAL_RETRIES))


def storage() -> Any:
    """The shared RDBStorage (one engine per process and database)."""
    heartbeat = int(getattr(settings, "NASBOARD_TRIAL_HEARTBEAT_SECONDS", 10))
    grace = int(getattr(settings, "NASBOARD_TRIAL_GRACE_SECONDS", 6 * heartbeat))
    _made.add((storage_url(), heartbeat, grace))
    return _storage(storage_url(), heartbeat, grace)


def study_name(experiment: "Experiment") -> str:
    """The Optuna study of a study experiment."""
    return f"nasboard-study-{experiment.pk}"


def load_study(experiment: "Experiment") -> Any:
    """The experiment's Optuna study, created on first use with its settings' sampler and pruner."""
    from nascore.hpo.study import open_study

    return open_study(experiment.config, storage=storage(), name=study_name(experiment))


def delete_study(experiment: "Experiment") -> bool:
    """Drop the experiment's Optuna study (its trials with it); False when there was none."""
    import optuna

    try:
        optuna.delete_study(study_name=study_name(experiment), storage=storage())
    except KeyError:
        return False
    return True


def _database_now(session: Any) -> Any:
    """The database's clock, naive, as Optuna reads it to judge a heartbeat stale (so the database's time zone does
    not matter)."""
    import sqlalchemy

    return session.execute(sqlalchemy.func.now()).scalar().replace(tzinfo=None)


def silent_trial_ids(study: Any, seconds: float) -> set[int]:
    """The study's running trials whose heartbeat is older than ``seconds``: their worker is most likely lost, and
    Optuna will fail them once the grace period is over.  Read as Optuna reads staleness (the database's clock, in
    Optuna's own session), so the database's time zone does not matter."""
    from datetime import timedelta

    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    rdb = storage()
    session = rdb.scoped_session()
    try:
        now = _database_now(session)
        rows = (session.query(models.TrialHeartbeatModel.trial_id, models.TrialHeartbeatModel.heartbeat)
                .join(models.TrialModel, models.TrialModel.trial_id == models.TrialHeartbeatModel.trial_id)
                .filter(models.TrialModel.study_id == study._study_id, models.TrialModel.state == TrialState.RUNNING)
                .all())
    finally:
        session.close()
    return {trial_id for trial_id, beat in rows if now - beat > timedelta(seconds=seconds)}


def expire_unbeaten_trials(study: Any) -> list[int]:
    """Running trials with no heartbeat at all, given one already past the grace period, so that the next
    ``fail_stale_trials`` fails them (and queues their retry). Only for a caller that holds the study's lock: a
    task asks for a trial and beats its first heartbeat under that lock, so a trial without one was asked for by a
    task that died in between (its lock went with its connection). Optuna fails a trial only by its heartbeat, so
    such a trial would otherwise stay running for ever and the study with it."""
    from datetime import timedelta

    from optuna.storages._rdb import models
    from optuna.trial import TrialState

    rdb = storage()
    session = rdb.scoped_session()
    try:
        orphans = [trial_id for (trial_id,) in (
            session.query(models.TrialModel.trial_id)
            .outerjoin(models.TrialHeartbeatModel, models.TrialHeartbeatModel.trial_id == models.TrialModel.trial_id)
            .filter(models.TrialModel.study_id == study._study_id, models.TrialModel.state == TrialState.RUNNING,
                    models.TrialHeartbeatModel.trial_id.is_(None))
            .all())]
        if orphans:
            expired = _database_now(session) - timedelta(seconds=rdb.grace_period + 1)
            session.add_all(models.TrialHeartbeatModel(trial_id=trial_id, heartbeat=expired) for trial_id in orphans)
            session.commit()
        return orphans
    finally:
        session.close()


def dispose() -> None:
    """Close every pooled connection of the storages this process made (before its database is dropped)."""
    for engine in {_storage(*key).engine for key in _made}:
        engine.dispose()
    _made.clear()
    _storage.cache_clear()


#: the (url, heartbeat, grace) keys of the storages made, for dispose
_made: set[tuple[str, int, int]] = set()
