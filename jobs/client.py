"""Submitting a job, reading it back and waiting for it: the one client the API and the bot use.

Asynchronous throughout (redis.asyncio), with no thread hop: the submissions that arrive
together are one Redis transaction that also queues one Celery message naming them all
(jobs/submitter.py). The keys and steps are `jobs.protocol`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from pydantic import BaseModel
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs import protocol
from jobs.contract import Job, JobStatus, ModelInfo, Priority
from jobs.errors import JobsError, NoModelsServed, QueueUnavailable, UnknownModel
from jobs.images import ImageLimits, inspect_image
from jobs.metrics import JOBS_REJECTED, JOBS_SUBMITTED
from jobs.settings import QueueSettings
from jobs.submitter import Submitter
from jobs.waiting import Notifier

log = logging.getLogger(__name__)

OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)
# A waiter reads its job again this often even without a notification (one could be lost while
# the subscription reconnects); the cost of a long wait stays one read per slice.
RECHECK_S = 5.0
# The longest wait a client may ask for (GET /jobs/{id}?wait=S, Prefer: wait=S).
MAX_WAIT_S = 60.0


class _Status(BaseModel):
    """Just the status of a stored job record: cheaper to read than the whole Job."""

    status: JobStatus


def has_ended(raw: bytes) -> bool:
    return _Status.model_validate_json(raw).status.is_terminal()


@contextlib.asynccontextmanager
async def outage_as_unavailable() -> AsyncIterator[None]:
    try:
        yield
    except OUTAGE as exc:
        raise QueueUnavailable(f"The job queue (Redis) is unreachable: {exc}") from exc


class JobClient:
    def __init__(self, redis: aioredis.Redis, settings: QueueSettings) -> None:
        self._redis = redis
        self._settings = settings
        self.limits = ImageLimits.from_settings(settings)
        # Models ever announced; re-read on a miss or after a worker announces, never shrunk,
        # so a Redis restart does not refuse jobs before the workers announce again.
        self._models: set[str] = set()
        self._models_stale = True
        self.notifier = Notifier(redis, on_announce=self._announced)
        self.submitter = Submitter(
            redis,
            settings.submit_window_ms / 1000,
            settings.submit_max_jobs,
            settings.job_ttl_s,
            settings.image_ttl_s,
        )

    @classmethod
    def connect(cls, settings: QueueSettings, name: str = "kennel-client") -> JobClient:
        # After a Redis restart every pooled connection is stale: reconnect and retry the command
        # (twice, briefly) instead of failing one request per connection. A real outage still
        # surfaces as QueueUnavailable. The pool is bounded: waiting requests hold no connection.
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            timeout=10,
            socket_connect_timeout=2,
            socket_timeout=5,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
            retry_on_error=[RedisConnectionError],
            client_name=name,
        )
        return cls(aioredis.Redis.from_pool(pool), settings)

    @property
    def redis(self) -> aioredis.Redis:
        """The client's Redis connection pool, for a service's own small keys (the bot's)."""
        return self._redis

    async def close(self) -> None:
        await self.notifier.close()
        await self._redis.aclose()

    async def submit(
        self,
        data: bytes,
        model: str,
        top_k: int,
        source: str,
        owner: str | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> Job:
        """Check the image, store it and the job record, and queue the job by reference (in a
        message it may share with jobs submitted at the same moment: jobs/submitter.py)."""
        try:
            job = await self._submit(data, model, top_k, source, owner, priority)
        except JobsError as exc:
            JOBS_REJECTED.labels(source, exc.code.value).inc()
            raise
        JOBS_SUBMITTED.labels(source).inc()
        return job

    async def _submit(
        self,
        data: bytes,
        model: str,
        top_k: int,
        source: str,
        owner: str | None,
        priority: Priority,
    ) -> Job:
        inspect_image(data, self.limits)
        job = Job(model=model, top_k=top_k, source=source, owner=owner, priority=priority)
        async with outage_as_unavailable():
            await self._check_model(model)
            await self.submitter.submit(job, data)
        log.debug("job %s queued for model %s from %s", job.id, model, source)
        return job

    async def get_raw(self, job_id: str) -> bytes | None:
        """The job record's JSON as stored (what GET /jobs/{id} answers), or None."""
        async with outage_as_unavailable():
            return await protocol.read_job(self._redis, job_id)

    async def get(self, job_id: str) -> Job | None:
        raw = await self.get_raw(job_id)
        return None if raw is None else Job.model_validate_json(raw)

    async def wait_raw(self, job_id: str, timeout_s: float) -> bytes | None:
        """The job's record once it ends, or as it stands when `timeout_s` runs out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(timeout_s, MAX_WAIT_S)
        with self.notifier.watch(job_id) as woken:
            while True:
                woken.clear()
                raw = await self.get_raw(job_id)
                remaining = deadline - loop.time()
                if raw is None or remaining <= 0 or has_ended(raw):
                    return raw
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), min(remaining, RECHECK_S))

    async def wait(self, job_id: str, timeout_s: float) -> Job | None:
        """The job once it ends, or as it stands when `timeout_s` runs out; None if unknown."""
        raw = await self.wait_raw(job_id, timeout_s)
        return None if raw is None else Job.model_validate_json(raw)

    async def models(self) -> list[ModelInfo]:
        async with outage_as_unavailable():
            served = await protocol.served_models(self._redis)
        return sorted(served.values(), key=lambda m: m.name)

    async def workers(self) -> list[str]:
        """Workers that sent a heartbeat recently."""
        async with outage_as_unavailable():
            return await protocol.live_workers(self._redis)

    def _announced(self) -> None:
        self._models_stale = True

    async def queue_depth(self) -> int:
        """Jobs waiting for a worker (submitted, not started), of every priority."""
        async with outage_as_unavailable():
            return await protocol.queued_jobs(self._redis)

    async def _check_model(self, model: str) -> None:
        if model in self._models and not self._models_stale:
            return
        self._models_stale = False
        self._models |= set(await protocol.served_models(self._redis))
        if model in self._models:
            return
        if not self._models:
            raise NoModelsServed("No worker has announced any model yet; start a worker.")
        served = ", ".join(sorted(self._models))
        raise UnknownModel(f"Unknown model {model!r}; served models: {served}.")
