"""Helpers of the fault tests: a TCP proxy that can be cut and restored (Redis made unreachable for one worker
without touching the shared server), a live page's poller of the events API and its listener of the event stream,
and the checks that a run's history is whole."""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from typing import Any

from webapp.experiments.models import Event


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``cut()`` closes the listener and every open connection (clients see
    resets and refused connections, as when the server's host is unreachable), ``restore()`` listens again on the
    same port."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            listener.close()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class EventPoller(threading.Thread):
    """A live page's loop: GET the events API with ``after=last_seq`` every ``interval`` s, through server restarts
    (a refused connection or a 5xx is retried; the page keeps its last_seq). Keeps every event received, in order."""

    def __init__(self, base_url: str, experiment_id: int, token: str, interval: float = 0.3):
        super().__init__(daemon=True)
        self.url = f"{base_url}/api/experiments/{experiment_id}/events"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.interval = interval
        self.events: list[dict[str, Any]] = []
        self.errors: list[str] = []  # what failed while the server was away
        self.server_errors: list[int] = []  # 5xx answers: none expected
        self.history_revs: set[int] = set()
        self.status = ""
        self._stop_event = threading.Event()

    def run(self) -> None:
        last = 0
        while not self._stop_event.is_set():
            try:
                request = urllib.request.Request(f"{self.url}?after={last}", headers=self.headers)
                with urllib.request.urlopen(request, timeout=10) as response:
                    page = json.loads(response.read())
                self.events += page["events"]
                last = page["last_seq"]
                self.status = page["status"]
                self.history_revs.add(page["history_rev"])
                if page["more"]:
                    continue
            except urllib.error.HTTPError as exc:
                if exc.code >= 500:
                    self.server_errors.append(exc.code)
                self.errors.append(f"HTTP {exc.code}")
            except (OSError, ValueError) as exc:
                self.errors.append(type(exc).__name__)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=15)


class StreamPage(threading.Thread):
    """A live page on the push path: ``/stream`` from the start with a Bearer token, every event kept in order until
    the stream's ``end``. A dropped stream is opened again after the last event received (as a browser's
    EventSource does with Last-Event-ID)."""

    def __init__(self, base_url: str, experiment_id: int, token: str):
        super().__init__(daemon=True)
        self.base_url, self.path = base_url, f"/api/experiments/{experiment_id}/stream"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.events: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.server_errors: list[int] = []
        self.ended = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        from tests.webapp.asgi_support import SseClient

        last = 0
        while not self._stop_event.is_set() and not self.ended:
            client = None
            try:
                client = SseClient(self.base_url, self.path, {**self.headers, "Last-Event-ID": str(last)}, timeout=60)
                if client.response.status != 200:
                    (self.server_errors if client.response.status >= 500 else self.errors).append(client.response.status)
                else:
                    for message in client.messages():
                        if message.id is not None:
                            self.events += message.data["events"]
                            last = int(message.id)
                        if message.event == "end" or self._stop_event.is_set():
                            self.ended = message.event == "end"
                            break
            except (OSError, ValueError) as exc:
                self.errors.append(type(exc).__name__)
            finally:
                if client is not None:
                    client.close()
            self._stop_event.wait(1.0)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=70)


def assert_whole_history(experiment_id: int, epochs: int) -> list[Event]:
    """Events numbered 1..N with no gap or duplicate, every epoch once, one finished event and it is last."""
    events = list(Event.objects.filter(experiment_id=experiment_id).order_by("seq"))
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(events) + 1)), f"gaps or duplicates in {seqs}"
    assert [e.payload["epoch"] for e in events if e.type == "epoch"] == list(range(1, epochs + 1))
    finished = [e for e in events if e.type == "finished"]
    assert len(finished) == 1 and events[-1].type == "finished" and finished[0].payload["status"] == "finished"
    return events


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s")
