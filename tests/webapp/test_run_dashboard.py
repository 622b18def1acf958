"""`make run` (``manage.py run_dashboard``) with nothing configured: SQLite, the filesystem broker, and the production
server (uvicorn on ``webapp.asgi``), not Django's development server. Its event stream works without Redis: it
polls the database."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.webapp.asgi_support import SseClient, free_port
from tests.webapp.conftest import ROOT

pytestmark = [pytest.mark.slow]

#: what the events of the run below look like as the engine emits them
SCRIPT = """
import os, time
from django.contrib.auth import get_user_model
from webapp.experiments.models import ApiToken, Experiment, Status
from webapp.experiments.services import runs
user = get_user_model().objects.get(username="demo")
if os.environ["STEP"] == "start":
    exp = Experiment.objects.create(owner=user, name="sqlite run", config={}, space="darts", optimizer="darts",
                                    dataset="digits", seed=0, queue="not-sent", status=Status.RUNNING, dispatch=1)
    _, key = ApiToken.issue(user)
    print(exp.pk, key)
    first, last = 1, 2
else:
    exp = Experiment.objects.get(name="sqlite run")
    first, last = 3, 4
sink = runs.DatabaseSink(exp.pk)
for seq in range(first, last + 1):
    sink(seq, {"type": "step", "v": 1, "time": time.time(), "epoch": 1, "step": seq, "steps_per_epoch": 10,
               "loss": 1.0, "acc": 0.1})
if os.environ["STEP"] == "end":
    Experiment.objects.filter(pk=exp.pk).update(status=Status.CANCELLED)
"""


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "NASBOARD_", "DJANGO_"))}
    return {**env, "DJANGO_SETTINGS_MODULE": "webapp.settings", "DATABASE_URL": f"sqlite:///{tmp / 'nasboard.sqlite3'}",
            "NASBOARD_BROKER_DIR": str(tmp / "broker"), "NASBOARD_ARTIFACT_DIR": str(tmp / "artifacts"),
            "NASBOARD_DATA_DIR": str(tmp / "data"), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[int, Path, dict[str, str]]]:
    port = free_port()
    env = _env(tmp_path)
    log = tmp_path / "run_dashboard.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "manage.py", "run_dashboard", "--no-worker", "--port", str(port),
                                 "--web-workers", "2"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.time() + 90
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/accounts/login/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            assert time.time() < deadline, f"run_dashboard not answering:\n{log.read_text()}"
            time.sleep(0.3)
        yield port, log, env
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.getheader("Content-Type") or "", response.read()


def _script(env: dict[str, str], step: str) -> str:
    # a shell beside the local dashboard is local too (its settings use the per-machine key, as make run does)
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", SCRIPT], cwd=ROOT,
                          env={**env, "STEP": step, "NASBOARD_LOCAL": "1"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_run_serves_with_uvicorn_on_sqlite(dashboard: Any) -> None:
    port, log, env = dashboard
    status, kind, body = _get(port, "/static/js/eventstream.js")  # whitenoise, under ASGI
    assert status == 200 and "javascript" in kind and b"export { open, MAX_ERRORS }" in body
    status, kind, body = _get(port, "/api/experiments/1/stream")
    assert status == 401 and json.loads(body)["error"].startswith("authentication required")
    output = log.read_text()
    assert "database: sqlite3" in output and "filesystem" in output
    assert "Uvicorn running on" in output or "Started server process" in output
    assert "development server" not in output.lower()  # runserver's "do not use it in production" warning

    # the event stream without Redis: it polls the database
    pk, key = _script(env, "start").strip().splitlines()[-1].split()
    stream = SseClient(f"http://127.0.0.1:{port}", f"/api/experiments/{pk}/stream", {"Authorization": f"Bearer {key}"})
    messages = stream.messages()
    assert [next(messages).id for _ in range(2)] == ["1", "2"]
    _script(env, "end")
    rest = [m for m in messages if not m.comments]
    assert [(m.event, m.id) for m in rest] == [("message", "3"), ("message", "4"), ("end", None)]
    assert rest[-1].data["status"] == "cancelled"
