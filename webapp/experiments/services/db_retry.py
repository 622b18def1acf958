"""Database writes of a running search that survive a lost connection.

A run lasts hours; in that time PostgreSQL may restart, fail over, or an administrator may end the worker's
backend (``pg_terminate_backend``). The run must not fail for it: each write of the run is idempotent (events are
upserted on their sequence number, progress fields are overwritten), so it is simply done again on a new
connection after a short wait.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger("nasboard.experiments")
T = TypeVar("T")

#: how often a write is tried, and the wait before the first retry (doubled each time): about 15 s in all
ATTEMPTS = 6
FIRST_WAIT = 0.5


def retrying(write: Callable[[], T], what: str, attempts: int = ATTEMPTS, first_wait: float = FIRST_WAIT) -> T:
    """``write()``, done again on a fresh connection when the connection was lost (OperationalError, InterfaceError).

    Must be called outside any transaction (``write`` may open its own): a broken connection is closed here, which
    Django refuses inside an atomic block."""
    wait = first_wait
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except (OperationalError, InterfaceError) as exc:
            if attempt == attempts or connection.in_atomic_block:
                raise
            log.warning("%s: the database connection failed (%s); retrying on a new one in %.1f s", what,
                        str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, wait)
            try:
                connection.close()
            except Exception:  # closing a dead connection may itself fail; the next query opens a new one
                pass
            time.sleep(wait)
            wait *= 2
    raise AssertionError("unreachable")
