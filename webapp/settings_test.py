"""Settings for the test suite: the machine's PostgreSQL and Redis, isolated per test run.

Each run gets its own test database name, Redis key prefix and queue names, so two runs
(or a developer's dashboard) on the same servers never see each other's tasks.
"""
from __future__ import annotations

import os
import tempfile

# under pytest-xdist each worker process is a run of its own; the Celery workers a test starts inherit these
# variables (and PYTEST_XDIST_WORKER) and so land on the same database, queues and folders as their test
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
RUN_ID = os.environ.setdefault("NASBOARD_TEST_RUN_ID", f"{os.getpid()}") + XDIST_WORKER


def _own_folder(variable: str, default: str) -> None:
    """``variable``'s folder, made private to this xdist worker (artifact folders are named by experiment id,
    which repeats across the workers' databases)."""
    base = os.environ.setdefault(variable, default)
    if XDIST_WORKER and os.path.basename(base) != XDIST_WORKER:
        base = os.path.join(base, XDIST_WORKER)
        os.makedirs(base, exist_ok=True)
        os.environ[variable] = base


# local mode: without a SECRET_KEY the tests (and the workers they start, which inherit it) use this machine's key in
# runs/ (webapp/secret_key.py); a deployment's settings refuse to start without one
os.environ.setdefault("NASBOARD_LOCAL", "1")
os.environ["DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["NASBOARD_REDIS_PREFIX"] = f"nasboard-test-{RUN_ID}:"
os.environ["NASBOARD_QUEUE_PREFIX"] = f"t{RUN_ID}-"
_own_folder("NASBOARD_ARTIFACT_DIR", tempfile.mkdtemp(prefix=f"nasboard-artifacts-{RUN_ID}-"))
_own_folder("NASBOARD_DATA_DIR", os.path.join(tempfile.gettempdir(), "nasboard-test-data"))
# no imported benchmark unless a test puts one there (tests/nb201_data.py writes a synthetic table); workers
# started by the tests inherit the folder
_own_folder("NASBOARD_TEST_BENCHMARK_DIR", tempfile.mkdtemp(prefix=f"nasboard-benchmarks-{RUN_ID}-"))
os.environ["NASBOARD_BENCHMARK_DIR"] = os.environ["NASBOARD_TEST_BENCHMARK_DIR"]
# fast failure detection for the worker-loss tests
os.environ.setdefault("NASBOARD_HEARTBEAT_SECONDS", "0.5")
os.environ.setdefault("NASBOARD_HEARTBEAT_TIMEOUT", "6")
os.environ.setdefault("NASBOARD_REAPER_SECONDS", "1")
os.environ.setdefault("NASBOARD_POLL_MS", "500")
# a lost study trial is noticed within seconds (Optuna counts in whole seconds)
os.environ.setdefault("NASBOARD_TRIAL_HEARTBEAT_SECONDS", "1")
os.environ.setdefault("NASBOARD_TRIAL_GRACE_SECONDS", "4")

from webapp.settings import *  # noqa: E402,F401,F403
from webapp.settings import DATABASES  # noqa: E402

DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["TEST"] = {"NAME": f"test_nasboard_{RUN_ID}"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
DEBUG = False
