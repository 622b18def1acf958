"""Shared test setup: the suite needs the machine's PostgreSQL and Redis and fails without them."""
from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

# Playwright's sync API runs an event loop in the test thread; Django must still allow DB access there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(url: str, default_port: int) -> str | None:
    """None if a TCP connection to the URL's host and port works, else the reason."""
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return None
    except OSError as exc:
        return f"{host}:{port} ({exc.strerror or exc})"


def pytest_sessionstart(session: pytest.Session) -> None:
    problems = []
    pg = _reachable(TEST_DATABASE_URL, 5432)
    if pg:
        problems.append(f"PostgreSQL is not reachable at {pg}; start it or set TEST_DATABASE_URL")
    redis = _reachable(TEST_REDIS_URL, 6379)
    if redis:
        problems.append(f"Redis is not reachable at {redis}; start it or set TEST_REDIS_URL")
    if problems:
        pytest.exit("the test suite needs the real services:\n  " + "\n  ".join(problems), returncode=1)
