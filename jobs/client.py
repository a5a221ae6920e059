"""Submitting a job and reading it back: the one client the API and the bot both use.

Asynchronous throughout (redis.asyncio); the one synchronous call, Celery's `send_task`, runs in
a thread so the caller's event loop never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from celery import Celery
from kombu.exceptions import OperationalError
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs import keys
from jobs.celery_config import celery_config
from jobs.contract import QUEUE_NAME, TASK_NAME, Job, ModelInfo
from jobs.errors import JobsError, NoModelsServed, QueueUnavailable, UnknownModel
from jobs.images import ImageLimits, inspect_image
from jobs.metrics import JOBS_REJECTED, JOBS_SUBMITTED
from jobs.settings import QueueSettings

log = logging.getLogger(__name__)

OUTAGE = (RedisConnectionError, RedisTimeoutError, OperationalError, OSError)
# Wake up at least this often while waiting, in case a worker's notification was missed.
WAIT_SLICE_S = 1.0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@contextlib.asynccontextmanager
async def outage_as_unavailable() -> AsyncIterator[None]:
    try:
        yield
    except OUTAGE as exc:
        raise QueueUnavailable(f"The job queue (Redis) is unreachable: {exc}") from exc


class JobClient:
    def __init__(self, redis: aioredis.Redis, celery: Celery, settings: QueueSettings) -> None:
        self._redis = redis
        self._celery = celery
        self._settings = settings
        self.limits = ImageLimits.from_settings(settings)

    @classmethod
    def connect(cls, settings: QueueSettings) -> JobClient:
        # After a Redis restart every pooled connection is stale: reconnect and retry the command
        # (twice, briefly) instead of failing one request per connection. A real outage still
        # surfaces as QueueUnavailable.
        redis = aioredis.from_url(
            settings.redis_url,
            socket_connect_timeout=2,
            socket_timeout=WAIT_SLICE_S + 4,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
            retry_on_error=[RedisConnectionError],
        )
        celery = Celery("kennel-client", set_as_current=False)
        celery.conf.update(celery_config(settings))
        return cls(redis, celery, settings)

    @property
    def redis(self) -> aioredis.Redis:
        """The client's Redis connection pool, for a service's own small keys (the bot's)."""
        return self._redis

    async def close(self) -> None:
        await self._redis.aclose()
        self._celery.close()

    async def submit(
        self, data: bytes, model: str, top_k: int, source: str, owner: str | None = None
    ) -> Job:
        """Check the image, store it and the job record, then queue the job by reference."""
        try:
            job = await self._submit(data, model, top_k, source, owner)
        except JobsError as exc:
            JOBS_REJECTED.labels(source, exc.code.value).inc()
            raise
        JOBS_SUBMITTED.labels(source).inc()
        return job

    async def _submit(
        self, data: bytes, model: str, top_k: int, source: str, owner: str | None
    ) -> Job:
        inspect_image(data, self.limits)
        job = Job(model=model, top_k=top_k, source=source, owner=owner)
        async with outage_as_unavailable():
            await self._check_model(model)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(keys.job(job.id), job.model_dump_json(), ex=self._settings.job_ttl_s)
                pipe.set(keys.image(job.id), data, ex=self._settings.image_ttl_s)
                pipe.zadd(keys.QUEUED, {job.id: job.created_at.timestamp()})
                await pipe.execute()
        try:
            await asyncio.to_thread(
                self._celery.send_task, TASK_NAME, args=[job.id], task_id=job.id
            )
        except OUTAGE as exc:
            await self._forget(job.id)
            raise QueueUnavailable(f"The job could not be queued: {exc}") from exc
        log.info("job %s queued for model %s from %s", job.id, model, source)
        return job

    async def get(self, job_id: str) -> Job | None:
        async with outage_as_unavailable():
            raw = await self._redis.get(keys.job(job_id))
        return None if raw is None else Job.model_validate_json(raw)

    async def wait(self, job_id: str, timeout_s: float) -> Job | None:
        """The job once it ends, or as it stands when `timeout_s` runs out; None if unknown."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            job = await self.get(job_id)
            remaining = deadline - loop.time()
            if job is None or job.status.is_terminal() or remaining <= 0:
                return job
            async with outage_as_unavailable():
                await self._redis.blpop([keys.done(job_id)], timeout=min(remaining, WAIT_SLICE_S))

    async def models(self) -> list[ModelInfo]:
        async with outage_as_unavailable():
            raw = await self._redis.hgetall(keys.MODELS)
        return sorted(
            (ModelInfo.model_validate_json(v) for v in raw.values()), key=lambda m: m.name
        )

    async def workers(self) -> list[str]:
        """Workers that sent a heartbeat recently."""
        async with outage_as_unavailable():
            names = [key.decode() async for key in self._redis.scan_iter(keys.WORKER_PATTERN)]
        return sorted(name.removeprefix(keys.worker("")) for name in names)

    async def queue_depth(self) -> int:
        """Jobs waiting in the queue, not yet taken by a worker."""
        async with outage_as_unavailable():
            return int(await self._redis.llen(QUEUE_NAME))

    async def _check_model(self, model: str) -> None:
        if await self._redis.hexists(keys.MODELS, model):
            return
        served = sorted(_text(name) for name in await self._redis.hkeys(keys.MODELS))
        if not served:
            raise NoModelsServed("No worker has announced any model yet; start a worker.")
        raise UnknownModel(f"Unknown model {model!r}; served models: {', '.join(served)}.")

    async def _forget(self, job_id: str) -> None:
        with contextlib.suppress(*OUTAGE):
            await self._redis.delete(keys.job(job_id), keys.image(job_id))
            await self._redis.zrem(keys.QUEUED, job_id)
