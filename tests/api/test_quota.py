"""The per-client rate window, against a real redis-server: atomic under concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
import redis.asyncio as aioredis

from api.quota import WINDOW_S, Quota, window_key
from jobs.errors import QueueUnavailable
from stack.processes import free_port
from stack.redis import EmbeddedRedis

pytestmark = pytest.mark.system
T = TypeVar("T")
START = 1_800_000_000.0  # a window boundary: 30,000,000 minutes since the epoch


def run_with_quota(url: str, scenario: Callable[[Quota, aioredis.Redis], Awaitable[T]]) -> T:
    async def main() -> T:
        connection = aioredis.from_url(url)
        try:
            await connection.flushdb()
            return await scenario(Quota(connection), connection)
        finally:
            await connection.aclose()

    return asyncio.run(main())


def test_concurrent_requests_get_exactly_the_rate(redis_server: EmbeddedRedis) -> None:
    async def scenario(quota: Quota, _: aioredis.Redis) -> list[float]:
        return list(await asyncio.gather(*(quota.take("shop", 10, START + 5) for _ in range(50))))

    waits = run_with_quota(redis_server.url, scenario)
    assert sum(w == 0 for w in waits) == 10
    assert all(w == pytest.approx(WINDOW_S - 5) for w in waits if w)


def test_the_next_window_starts_afresh_and_windows_expire(redis_server: EmbeddedRedis) -> None:
    async def scenario(quota: Quota, connection: aioredis.Redis) -> tuple[float, ...]:
        first = await quota.take("shop", 1, START)
        over = await quota.take("shop", 1, START + 59.5)
        other_client = await quota.take("nightly", 1, START + 59.5)
        next_window = await quota.take("shop", 1, START + 60)
        ttl = await connection.ttl(window_key("shop", int(START // WINDOW_S)))
        return first, over, other_client, next_window, float(ttl)

    first, over, other_client, next_window, ttl = run_with_quota(redis_server.url, scenario)
    assert (first, other_client, next_window) == (0, 0, 0)
    assert over == pytest.approx(0.5)
    assert 0 < ttl <= WINDOW_S + 1


def test_redis_unreachable_is_queue_unavailable() -> None:
    async def scenario() -> None:
        connection = aioredis.from_url(f"redis://127.0.0.1:{free_port()}", socket_connect_timeout=1)
        try:
            await Quota(connection).take("shop", 10)
        finally:
            await connection.aclose()

    with pytest.raises(QueueUnavailable):
        asyncio.run(scenario())
