"""The production server for tests: uvicorn (``webapp.asgi``, as ``make run`` starts it) in a subprocess on the test
database and Redis, and a small Server-Sent Events reader.

pytest-django's ``live_server`` is a WSGI server, where the event stream answers 501; these tests need the real one.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tests.webapp.conftest import ROOT, test_database_url
from webapp.experiments.management.server import server_command


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AsgiServer:
    """uvicorn on a free port (the same one across restarts), logging to ``log_path``."""

    def __init__(self, log_path: Path, workers: int = 1, **env: str):
        self.port = free_port()
        self.log_path = log_path
        self.workers = workers
        # the test settings (its password hasher, Redis prefix, folders: inherited through the environment), on the
        # test database rather than the one its DATABASES names
        self.env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings_test", "TEST_DATABASE_URL": test_database_url(),
                    "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> "AsgiServer":
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(server_command("127.0.0.1", self.port, self.workers), cwd=ROOT, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"uvicorn not answering after {timeout}s:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@dataclass
class Message:
    """One SSE message: its id, event name (``message`` unless named) and JSON data; or a comment line."""

    id: str | None = None
    event: str = "message"
    data: Any = None
    comments: list[str] = field(default_factory=list)


class SseClient:
    """A stream opened with http.client, read message by message (a socket timeout stops a stuck test)."""

    def __init__(self, base: str, path: str, headers: dict[str, str], timeout: float = 30):
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream", **headers})
        self.response = self.conn.getresponse()

    def messages(self) -> Iterator[Message]:
        """Messages until the server closes the stream; comments (heartbeats) ride on a message of their own."""
        current = Message()
        data: list[str] = []
        while True:
            raw = self.response.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\n")
            if line == "":
                if data or current.comments:
                    current.data = json.loads("\n".join(data)) if data else None
                    yield current
                current, data = Message(), []
            elif line.startswith(":"):
                current.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "id":
                    current.id = value
                elif name == "event":
                    current.event = value
                elif name == "data":
                    data.append(value)

    def close(self) -> None:
        self.conn.close()
