"""Plain helpers shared by the engine tests (fixtures live in conftest.py)."""
from __future__ import annotations

from typing import Callable


def stop_after(checks: int) -> Callable[[], bool]:
    """A ``stop_check`` that lets the first ``checks`` calls pass and asks to stop on every later one.

    The runners call it once per step (or query), so a test can cancel a run at an exact point and then check that
    resuming from the checkpoint ends where an uninterrupted run does."""
    calls = 0

    def stop_check() -> bool:
        nonlocal calls
        calls += 1
        return calls > checks

    return stop_check
