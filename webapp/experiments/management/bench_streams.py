"""The push half of ``bench_events``: N clients listening to a run's ``/stream`` (Server-Sent Events) as open live
pages do, each timing every event from its emission (the event's ``time``) to its arrival.

A client counts as errors: a refused or dropped stream, an event whose sequence number is not the next one (lost or
repeated), and, at the end, every event the run has that it never received. Threads and blocking sockets, so the
numbers include this process's own scheduling (run the benchmark on a quiet machine for figures to quote).
"""
from __future__ import annotations

import http.client
import json
import statistics
import threading
import time
from typing import Any
from urllib.parse import urlsplit


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank), as the benchmark reports p95."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Listener(threading.Thread):
    """One SSE client from ``after`` on; ``delays`` in seconds, ``errors`` in words."""

    def __init__(self, base: str, path: str, headers: dict[str, str], after: int):
        super().__init__(daemon=True)
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=60)
        self.path, self.headers, self.last = path, headers, after
        self.delays: list[float] = []
        self.errors: list[str] = []
        self.opened = threading.Event()
        self.closing = False

    def run(self) -> None:
        try:
            self.conn.request("GET", f"{self.path}?after={self.last}", headers={"Accept": "text/event-stream", **self.headers})
            response = self.conn.getresponse()
            if response.status != 200:
                self.errors.append(f"the stream answered {response.status}")
                return
            self.opened.set()
            data: list[str] = []
            while True:
                line = response.readline()
                if not line:
                    if not self.closing:
                        self.errors.append("the server closed the stream")
                    return
                text = line.decode().rstrip("\n")
                if text.startswith("data:"):
                    data.append(text[5:].strip())
                elif text == "" and data:
                    self._received(json.loads("\n".join(data)), time.time())
                    data = []
        except Exception as exc:  # noqa: BLE001 - counted, not hidden
            if not self.closing:
                self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self.opened.set()

    def _received(self, answer: dict[str, Any], now: float) -> None:
        for event in answer.get("events", []):
            if event["seq"] != self.last + 1:
                self.errors.append(f"event {event['seq']} after {self.last}")
            self.last = max(self.last, event["seq"])
            if isinstance(event.get("time"), (int, float)):
                self.delays.append(now - event["time"])

    def close(self) -> None:
        self.closing = True
        try:
            if self.conn.sock is not None:
                self.conn.sock.shutdown(2)
        except OSError:
            pass
        self.conn.close()


class StreamListeners:
    """``count`` listeners on experiment ``pk`` from ``after``; ``report()`` says what they saw."""

    def __init__(self, base: str, pk: int, headers: dict[str, str], after: int, count: int):
        self.listeners = [Listener(base, f"/api/experiments/{pk}/stream", headers, after) for _ in range(count)]
        self.missing = 0

    def open(self) -> None:
        for listener in self.listeners:
            listener.start()
        for listener in self.listeners:
            listener.opened.wait(60)

    def close(self, last_seq: int, grace: float = 5.0) -> None:
        """Give them ``grace`` seconds to receive up to ``last_seq``, then hang up and count what never came."""
        deadline = time.time() + grace
        while time.time() < deadline and any(li.last < last_seq and li.is_alive() for li in self.listeners):
            time.sleep(0.1)
        for listener in self.listeners:
            listener.close()
            listener.join(10)
            if listener.last < last_seq:
                listener.errors.append(f"never received events {listener.last + 1}..{last_seq}")

    def report(self) -> str:
        delays = [d * 1000 for li in self.listeners for d in li.delays]
        errors = [e for li in self.listeners for e in li.errors]
        head = f"/stream with {len(self.listeners)} SSE clients: {len(delays)} events received"
        if not delays:
            return f"{head}; errors {len(errors)}: {errors[:3]}"
        return (f"{head}, emit-to-client delay median {statistics.median(delays):.0f} ms, p95 {percentile(delays, 0.95):.0f} ms, "
                f"max {max(delays):.0f} ms, errors {len(errors)}" + (f" (first: {errors[:3]})" if errors else ""))
