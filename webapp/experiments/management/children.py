"""Stopping the child processes a management command started (``run_dashboard``, ``start_workers``).

A Celery worker told to stop hands its running searches back to the queue at their next step (they resume on the
next worker from their checkpoint) and then exits; the commands wait that long, and no longer: whatever is still
running after the grace period is killed (:func:`kill_after`; its run is then requeued by the heartbeat reaper)."""
from __future__ import annotations

import signal
import subprocess
import time
from typing import Any, Callable, Iterable


def on_stop_signals(handler: Callable[[int, Any], None]) -> None:
    """Call ``handler`` on SIGTERM and SIGINT (Ctrl-C) instead of dying and leaving the children running."""
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def terminate_running(procs: Iterable[subprocess.Popen[Any]]) -> None:
    """Send SIGTERM to each child still running: a Celery worker then hands its runs back and exits."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)


def kill_after(procs: Iterable[subprocess.Popen[Any]], deadline: float) -> bool:
    """SIGKILL the children still running once ``deadline`` (time.monotonic) has passed; True once all have ended."""
    alive = [p for p in procs if p.poll() is None]
    if alive and time.monotonic() >= deadline:
        for p in alive:
            p.kill()
        for p in alive:
            p.wait()
        return True
    return not alive
