"""Stopping the child processes a management command started (``run_dashboard``, ``start_workers``)."""
from __future__ import annotations

import signal
import subprocess
from typing import Any, Callable, Iterable


def on_stop_signals(handler: Callable[[int, Any], None]) -> None:
    """Call ``handler`` on SIGTERM and SIGINT (Ctrl-C) instead of dying and leaving the children running."""
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def terminate_running(procs: Iterable[subprocess.Popen[Any]]) -> None:
    """Send SIGTERM to each child still running: a Celery worker then finishes cleanly (warm shutdown)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
