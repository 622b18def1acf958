"""A worker asked to stop (SIGTERM from ``docker compose stop`` or a deploy, Ctrl-C on ``make run``) must not wait
for its search to end: the run's stop check reads :func:`requested`, the engine ends the epoch loop at the next
step, and the service hands the run back to the queue (``services.runs``), to resume from its checkpoint on the
next worker.

With Celery's prefork pool the run executes in a pool child, while the stop signal reaches the main process (or,
on Ctrl-C in a terminal, the whole process group, where the child ignores SIGINT). So the flag is a
``multiprocessing.Event`` made when this module is imported in the main process, before the pool forks: every child
shares it. The main process sets it from Celery's ``worker_shutting_down`` signal; a child that receives SIGTERM
itself sets it too instead of dying mid-step (see :func:`install_child_handler`). With the solo or threads pool
the run executes in the main process and reads the same flag.

This module imports nothing of Django, so the Celery app module can load it first.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Any

_stop = multiprocessing.Event()


def request() -> None:
    """Ask every run of this worker (main process and pool children) to hand itself back."""
    _stop.set()


def requested() -> bool:
    return _stop.is_set()


def reset() -> None:
    """For a worker started again in the same process (tests of an in-process worker)."""
    _stop.clear()


def _child_sigterm(signum: int, _frame: Any) -> None:
    """A pool child told to terminate: flag the stop, and make sure its parent stops too (a child that alone ended
    its run would otherwise take the next message and hand it back at once, forever)."""
    first = not _stop.is_set()
    _stop.set()
    if first:
        try:
            os.kill(os.getppid(), signal.SIGTERM)  # a warm shutdown of the whole worker; repeated, it is harmless
        except OSError:
            pass


def install_child_handler() -> None:
    """In a prefork pool child (``worker_process_init``): SIGTERM sets the stop flag instead of killing the child
    in the middle of a step (Celery resets the child's SIGTERM to the default, which would lose the step and leave
    the run to the heartbeat reaper). A second SIGTERM after the flag is set still ends the child at once."""

    def handler(signum: int, frame: Any) -> None:
        if _stop.is_set() and getattr(handler, "seen", False):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        handler.seen = True  # type: ignore[attr-defined]
        _child_sigterm(signum, frame)

    signal.signal(signal.SIGTERM, handler)
