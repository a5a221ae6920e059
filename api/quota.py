"""Each API client's rate: a fixed one-minute window per client, counted atomically in Redis.

A window is the client name plus the minute since the epoch; every submission in it increments
one counter (INCR and EXPIRE in one MULTI), so several API processes share the count. Like any
fixed window, a client can place up to twice its rate across a minute boundary.
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from jobs.client import outage_as_unavailable
from jobs.protocol import PREFIX

WINDOW_S = 60


def window_key(client: str, window: int) -> str:
    return f"{PREFIX}:rate:{client}:{window}"


class Quota:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def take(self, client: str, rate_per_minute: int, now: float | None = None) -> float:
        """Count one request; 0 if within the rate, else the seconds until the window ends."""
        now = time.time() if now is None else now
        window = int(now // WINDOW_S)
        key = window_key(client, window)
        async with outage_as_unavailable(), self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_S + 1)
            count, _ = await pipe.execute()
        if int(count) <= rate_per_minute:
            return 0.0
        return (window + 1) * WINDOW_S - now
