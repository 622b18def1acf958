"""The wake-up call of the live event streams: the sink publishes "run N has events up to SEQ" on Redis, and every
stream of run N that waits on it reads the database at once.

The message only wakes; the database stays the truth (a lost message costs one safety-net period, never an event).
Without Redis (``make run`` on SQLite) nothing is published and streams poll the database themselves.
"""
from __future__ import annotations

import functools
import logging
from typing import Any

from django.conf import settings

log = logging.getLogger("nasboard.experiments")


def channel(experiment_id: int) -> str:
    """The pub/sub channel of one run, under the deployment's Redis prefix (tests and deployments share a Redis)."""
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", "") if settings.REDIS_URL else ""
    return f"{prefix}nasboard:events:{experiment_id}"


@functools.cache
def _client() -> Any:
    import redis  # only with REDIS_URL

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def publish(experiment_id: int, seq: int) -> None:
    """Wake the run's streams; a Redis failure is logged, never raised (the run must not fail for a wake-up)."""
    if not settings.REDIS_URL:
        return
    try:
        _client().publish(channel(experiment_id), str(seq))
    except Exception:  # noqa: BLE001 - the streams' safety net reads the database anyway
        log.warning("could not publish events of experiment %s to Redis", experiment_id, exc_info=True)
