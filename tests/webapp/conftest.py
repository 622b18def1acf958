"""Fixtures for the dashboard tests: users, API clients, real Celery worker subprocesses, a benchmark table, Chromium."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
TINY = {"space": "s3", "dataset": "digits", "epochs": 3, "channels": 4, "layers": 3, "batch_size": 32,
        "steps_per_epoch": 4, "device": "cpu", "curvature_samples": 32}  # curvature (on by default) on a small subset


@pytest.fixture
def tiny_config() -> dict[str, Any]:
    return dict(TINY)


@pytest.fixture
def make_user(django_user_model: Any) -> Callable[..., Any]:
    def make(username: str = "alice", staff: bool = False, password: str = "pw-for-tests-123") -> Any:
        return django_user_model.objects.create_user(username=username, password=password, is_staff=staff)

    return make


@pytest.fixture
def alice(make_user: Callable[..., Any]) -> Any:
    return make_user("alice")


@pytest.fixture
def bob(make_user: Callable[..., Any]) -> Any:
    return make_user("bob")


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    name = db["TEST"]["NAME"]
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{host}:{port}/{name}"


test_database_url.__test__ = False  # type: ignore[attr-defined]


class Worker:
    """A real `celery worker` subprocess on the test database, Redis and queues."""

    def __init__(self, name: str, log_dir: Path, queue_prefix: str | None = None, extra_env: dict[str, str] | None = None):
        """``extra_env`` overrides the worker's environment (a fault test points REDIS_URL at its proxy)."""
        self.name = name
        self.log_path = log_dir / f"worker-{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "DATABASE_URL": test_database_url(),
            "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "DB_CONN_MAX_AGE": "0",
            "NASBOARD_DB_APPLICATION_NAME": f"nasboard-worker-{name}",  # its backends, as pg_stat_activity names them
        }
        for key in ("REDIS_URL", "NASBOARD_REDIS_PREFIX", "NASBOARD_QUEUE_PREFIX", "NASBOARD_ARTIFACT_DIR", "NASBOARD_DATA_DIR",
                    "NASBOARD_HEARTBEAT_SECONDS", "NASBOARD_HEARTBEAT_TIMEOUT", "NASBOARD_REAPER_SECONDS"):
            env[key] = os.environ[key]
        for key in ("NASBOARD_TRIAL_HEARTBEAT_SECONDS", "NASBOARD_TRIAL_GRACE_SECONDS", "NASBOARD_STUDY_TASKS",
                    "NASBOARD_STUDY_TASK_SECONDS"):
            if key in os.environ:
                env[key] = os.environ[key]
        env.update(extra_env or {})
        prefix = os.environ["NASBOARD_QUEUE_PREFIX"] if queue_prefix is None else queue_prefix
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", f"{prefix}cpu,{prefix}gpu", "-c", "1",
             "--pool", "prefork", "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 90) -> "Worker":
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker {self.name} exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            if " ready." in self.log():
                return self
            time.sleep(0.2)
        raise RuntimeError(f"worker {self.name} not ready after {timeout}s:\n{self.log()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool child): a machine that vanished."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def terminate(self) -> None:
        """SIGTERM to the main process only, as ``docker compose stop`` or a process manager sends it."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture(scope="session")
def worker_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("worker-logs")


@pytest.fixture
def start_worker(django_db_setup: None, worker_logs: Path) -> Iterator[Callable[..., Worker]]:
    """Start named workers for one test (on their own queues if asked); stopped when it ends."""
    workers: list[Worker] = []

    def start(name: str, queue_prefix: str | None = None, env: dict[str, str] | None = None) -> Worker:
        worker = Worker(f"{name}-{len(workers)}-{os.getpid()}", worker_logs, queue_prefix, env)
        workers.append(worker)
        return worker.wait_ready()

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture(scope="session")
def shared_worker(django_db_setup: None, worker_logs: Path) -> Iterator[Worker]:
    """One worker for the tests that just need runs to run."""
    worker = Worker(f"shared-{os.getpid()}", worker_logs).wait_ready()
    yield worker
    worker.stop()


def _wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    """wait_for(predicate, timeout, what): poll until truthy, else fail naming what was awaited."""
    return _wait_for


@pytest.fixture(scope="session", autouse=True)
def _test_run_cleanup() -> Iterator[None]:
    """Remove this run's Redis keys and artifacts afterwards."""
    yield
    import redis

    prefix = os.environ.get("NASBOARD_REDIS_PREFIX", "")
    if prefix:
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    shutil.rmtree(os.environ.get("NASBOARD_ARTIFACT_DIR", "/nonexistent"), ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _plotly_asset() -> None:
    """static/vendor/plotly.min.js is copied from the plotly package at build time (make assets)."""
    target = ROOT / "static" / "vendor" / "plotly.min.js"
    if not target.exists():
        import plotly

        source = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


@pytest.fixture
def table(tmp_path: Path) -> Iterator[Any]:
    """A synthetic NAS-Bench-201 CIFAR-10 table (tests/nb201_data.py) stored where the server finds it."""
    from django.test import override_settings

    from tests.nb201_data import store_synthetic

    store = tmp_path / "benchmarks"
    found = store_synthetic(store, seed=7)
    with override_settings(NASBOARD_BENCHMARK_DIR=store):
        yield found


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session (see tests/webapp/browser_support.py)."""
    from tests.webapp.browser_support import launch_chromium

    yield from launch_chromium()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    from tests.webapp.browser_support import new_page

    yield from new_page(browser)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> Iterator[None]:
    """pytest-django's test database, with Optuna's pooled connections to it (HPO studies) closed before it is
    dropped."""
    yield
    from webapp.experiments.services.optuna_storage import dispose

    dispose()
