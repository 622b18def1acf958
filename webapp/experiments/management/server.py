"""The production web server's command line (uvicorn on ``webapp.asgi``), built in one place so that
``run_dashboard`` and its test agree on it.

uvicorn, not Django's ``runserver``: the dev server is single-process, prints its "do not use in production"
warning, and holds a thread per open Server-Sent Events stream. Several uvicorn worker processes keep 20 pollers
and 100 open streams from starving each other; a graceful-shutdown limit keeps open streams (which never end on
their own while a run is live) from holding a Ctrl-C or a restart forever.
"""
from __future__ import annotations

import os
import sys

#: seconds uvicorn waits for open connections (event streams) on shutdown before closing them
GRACEFUL_SHUTDOWN_SECONDS = 3


def default_workers() -> int:
    """Worker processes: NASBOARD_WEB_WORKERS if set, else one per CPU core, between 2 and 4."""
    configured = os.environ.get("NASBOARD_WEB_WORKERS", "").strip()
    if configured:
        try:
            workers = int(configured)
        except ValueError:
            raise ValueError(f"NASBOARD_WEB_WORKERS must be a whole number of processes, not {configured!r}") from None
        if workers < 1:
            raise ValueError(f"NASBOARD_WEB_WORKERS must be at least 1, not {workers}")
        return workers
    return max(2, min(4, os.cpu_count() or 1))


def server_command(host: str, port: int, workers: int) -> list[str]:
    """uvicorn serving the ASGI app on ``host:port`` with ``workers`` processes, without per-request access log
    lines (20 pollers would bury everything else)."""
    if workers < 1:
        raise ValueError(f"the web server needs at least 1 worker process, not {workers}")
    return [sys.executable, "-m", "uvicorn", "webapp.asgi:application", "--host", host, "--port", str(port),
            "--workers", str(workers), "--no-access-log", "--lifespan", "off", "--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_SECONDS)]
