"""What a live event stream waits on between two reads of the database.

With Redis: the run's pub/sub channel (``services.live_push``), so a stream reads as soon as the sink wrote, and
at least every NASBOARD_STREAM_CHECK_SECONDS anyway (a lost message, a Redis restart). Without Redis (``make run``
on SQLite), or when Redis cannot be reached: a plain sleep of NASBOARD_STREAM_POLL_SECONDS, polling the database.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from django.conf import settings

from webapp.experiments.services.live_push import channel

log = logging.getLogger("nasboard.experiments")
#: how long a woken stream waits for the rest of a burst before it reads
COALESCE_SECONDS = 0.05


class Sleep:
    """No push: wake after the polling period."""

    def __init__(self) -> None:
        self.period = settings.NASBOARD_STREAM_POLL_SECONDS

    async def wait(self, timeout: float) -> None:
        await asyncio.sleep(timeout)

    async def close(self) -> None:
        return None


class RedisWakeup:
    """Wake on a message of the run's channel, or after ``timeout`` (the safety net's period at most)."""

    def __init__(self, client: Any, pubsub: Any) -> None:
        self.client = client
        self.pubsub = pubsub
        self.period = settings.NASBOARD_STREAM_CHECK_SECONDS

    async def wait(self, timeout: float) -> None:
        try:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
            if message is not None:
                # an epoch's events come in a burst: a moment's wait lets one read cover them all, for every stream
                await asyncio.sleep(COALESCE_SECONDS)
            while message is not None:
                message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
        except Exception:  # noqa: BLE001 - Redis went away: the database is still the truth, poll it
            log.warning("event stream lost Redis; polling the database", exc_info=True)
            await asyncio.sleep(min(timeout, settings.NASBOARD_STREAM_POLL_SECONDS))

    async def close(self) -> None:
        try:
            await self.pubsub.aclose()
            await self.client.aclose()
        except Exception:  # noqa: BLE001 - closing a dead connection
            pass


async def open_wakeup(experiment_id: int) -> Sleep | RedisWakeup:
    """A subscription to the run's channel, or a sleep when there is no Redis to subscribe to."""
    if not settings.REDIS_URL:
        return Sleep()
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(channel(experiment_id))
    except Exception:  # noqa: BLE001 - no Redis now: poll
        log.warning("event stream cannot subscribe on Redis; polling the database", exc_info=True)
        await RedisWakeup(client, pubsub).close()
        return Sleep()
    return RedisWakeup(client, pubsub)
