"""The API in-process (httpx ASGITransport, lifespan run by hand) against a real redis-server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis

from api.app import create_app
from api.settings import ApiSettings
from jobs.contract import ModelInfo
from jobs.protocol import WorkerProtocol
from jobs.settings import QueueSettings

MODEL = "imagewoof"
Call = Callable[..., httpx.Response]


def announce(redis_url: str, models: list[str], worker: str = "test-worker") -> None:
    """What a starting worker writes: its models and its heartbeat (jobs/protocol.py)."""
    labels = ["a", "b"]
    with redis.Redis.from_url(redis_url) as client:
        steps = WorkerProtocol(client, max_attempts=3)
        steps.announce(worker, [ModelInfo(name=m, labels=labels) for m in models], ttl_s=60)


@pytest.fixture
def announced(redis_url: str) -> str:
    announce(redis_url, [MODEL])
    return redis_url


@asynccontextmanager
async def running(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kennel") as client:
            yield client


def caller(redis_url: str, **queue: Any) -> Call:
    """`call(method, path, **httpx_kwargs)`: one request to a fresh in-process API."""
    settings = ApiSettings(queue=QueueSettings(redis_url=redis_url, **queue), predict_timeout_s=0.5)

    def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def request() -> httpx.Response:
            async with running(settings) as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(request())

    return call
