"""Submitting a job, reading it back and waiting for it: the one client the API and the bot use.

Asynchronous throughout (redis.asyncio), with no thread hop: the submissions that arrive
together (jobs/submitter.py) are one Redis script that checks the queue's bounds and each
Idempotency-Key and stores the jobs with one Celery message naming them all (a deadline costs
one read before it). The keys and steps are `jobs.protocol`'s; the estimates (`position`,
`eta_s`, Retry-After) `jobs.admission`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import redis.asyncio as aioredis
from pydantic import BaseModel
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from jobs import admission, protocol
from jobs.connection import RedisTarget
from jobs.contract import Job, JobStatus, ModelInfo, Priority, Webhook, utcnow
from jobs.errors import (
    IdempotencyKeyReused,
    JobAlreadyEnded,
    JobNotFound,
    JobsError,
    NoModelsServed,
    NotReplicated,
    QueueUnavailable,
    UnknownModel,
)
from jobs.images import ImageLimits, inspect_image
from jobs.metrics import JOBS_CANCELED, JOBS_REJECTED, JOBS_REPLAYED, JOBS_SUBMITTED
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


class _Queued(_Status):
    """What placing a queued job in its model's queue needs of its record."""

    id: str
    model: str


@dataclass(frozen=True)
class Submitted:
    """A submission's job, and its JSON as a client reads it (`record`); `existing` when its
    Idempotency-Key had made it before."""

    job: Job
    record: bytes
    existing: bool


def status_of(raw: bytes) -> JobStatus:
    return _Status.model_validate_json(raw).status


def has_ended(raw: bytes) -> bool:
    return status_of(raw).is_terminal()


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
        self._steps = protocol.ClientProtocol(redis)
        self.limits = ImageLimits.from_settings(settings)
        # Models ever announced; re-read on a miss or after a worker announces, never shrunk,
        # so a Redis restart does not refuse jobs before the workers announce again.
        self._models: set[str] = set()
        self._models_stale = True
        self.notifier = Notifier(redis, on_announce=self._announced)
        self.submitter = Submitter(self._steps, settings)

    @classmethod
    def connect(cls, settings: QueueSettings, name: str = "kennel-client") -> JobClient:
        # After a Redis restart every pooled connection is stale: reconnect and retry the command
        # (twice, briefly) instead of failing one request per connection. A real outage still
        # surfaces as QueueUnavailable. The pool is bounded: waiting requests hold no connection.
        client = RedisTarget.from_settings(settings).async_client(
            max_connections=settings.redis_max_connections,
            wait_s=10,
            socket_connect_timeout=2,
            socket_timeout=5,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
            retry_on_error=[RedisConnectionError],
            client_name=name,
        )
        return cls(client, settings)

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
        idempotency_key: str | None = None,
        deadline_s: float | None = None,
        webhook: Webhook | None = None,
        priority: Priority = Priority.INTERACTIVE,
    ) -> Submitted:
        """Check the image and the queue's bounds, then store the job and queue it by
        reference; with an `idempotency_key` already used for the same submission, the job
        it made instead. Without `deadline_s`, the job gets the default deadline
        (KENNEL_JOB_DEADLINE_S). The job's queue message may name jobs submitted at the same
        moment too (jobs/submitter.py)."""
        try:
            submitted = await self._submit(
                data, model, top_k, source, owner, idempotency_key, deadline_s, webhook, priority
            )
        except JobsError as exc:
            JOBS_REJECTED.labels(source, exc.code.value).inc()
            raise
        (JOBS_REPLAYED if submitted.existing else JOBS_SUBMITTED).labels(source).inc()
        return submitted

    def _new_job(
        self,
        model: str,
        top_k: int,
        source: str,
        owner: str | None,
        deadline_s: float | None,
        webhook: Webhook | None,
        priority: Priority,
    ) -> Job:
        now = utcnow()
        return Job(
            model=model,
            top_k=top_k,
            source=source,
            owner=owner,
            webhook=webhook,
            priority=priority,
            created_at=now,
            expires_at=now + timedelta(seconds=self._settings.job_ttl_s),
            deadline_at=now + timedelta(seconds=deadline_s) if deadline_s else None,
        )

    async def _submit(
        self,
        data: bytes,
        model: str,
        top_k: int,
        source: str,
        owner: str | None,
        idempotency_key: str | None,
        deadline_s: float | None,
        webhook: Webhook | None,
        priority: Priority,
    ) -> Submitted:
        inspect_image(data, self.limits)
        deadline_s = deadline_s or self._settings.job_deadline_s or None
        job = self._new_job(model, top_k, source, owner, deadline_s, webhook, priority)
        once = None
        if idempotency_key is not None:
            once = admission.idempotency(idempotency_key, owner, data, model, top_k)
        async with outage_as_unavailable():
            await self._check_model(model)
            if deadline_s is not None:
                admission.check_deadline(deadline_s, await self._steps.queue_state(model))
            admitted = await self.submitter.submit(protocol.Entry(job, data, once))
        if admitted.outcome == "reused":
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used for another submission (another image, model "
                "or top_k); use a new key."
            )
        if admitted.outcome == "existing":
            assert admitted.record is not None
            raw = await self._placed(admitted.record)
            return Submitted(Job.model_validate_json(raw), raw, existing=True)
        if admitted.outcome == "unreplicated":
            raise NotReplicated(
                f"The job was not accepted: {admitted.replicas} of the "
                f"{self._settings.replicas_to_wait} Redis replica(s) needed confirmed it within "
                f"{self._settings.redis_replica_timeout_ms} ms (a failover, or a replica down); "
                "retry."
            )
        if admitted.outcome != "queued":
            raise admission.queue_full(admitted, len(data), self._settings)
        assert admitted.state is not None and admitted.state.position is not None
        position = admitted.state.position
        job = job.model_copy(
            update={"position": position, "eta_s": admission.eta_s(admitted.state, position)}
        )
        log.debug("job %s queued for model %s from %s", job.id, model, source)
        return Submitted(job, job.model_dump_json().encode(), existing=False)

    async def get_raw(self, job_id: str) -> bytes | None:
        """The job record's JSON as stored (what GET /jobs/{id} answers), or None; a queued
        job's with its `position` and `eta_s` added (one more round trip)."""
        raw = await self._read(job_id)
        return None if raw is None else await self._placed(raw)

    async def _read(self, job_id: str) -> bytes | None:
        async with outage_as_unavailable():
            return await protocol.read_job(self._redis, job_id)

    async def _placed(self, raw: bytes) -> bytes:
        """The record as stored, or for a queued job with its place and expected end."""
        queued = _Queued.model_validate_json(raw)
        if queued.status != JobStatus.QUEUED:
            return raw
        async with outage_as_unavailable():
            state = await self._steps.queue_state(queued.model, queued.id)
        record = json.loads(raw)
        record["position"] = state.position
        record["eta_s"] = None if state.position is None else admission.eta_s(state, state.position)
        return json.dumps(record, separators=(",", ":")).encode()

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
                raw = await self._read(job_id)
                remaining = deadline - loop.time()
                if raw is None or has_ended(raw):
                    return raw
                if remaining <= 0:
                    return await self._placed(raw)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), min(remaining, RECHECK_S))

    async def wait(self, job_id: str, timeout_s: float) -> Job | None:
        """The job once it ends, or as it stands when `timeout_s` runs out; None if unknown."""
        raw = await self.wait_raw(job_id, timeout_s)
        return None if raw is None else Job.model_validate_json(raw)

    async def cancel(self, job_id: str) -> bytes:
        """Cancel a queued or running job; its record as canceled. `JobAlreadyEnded` if it
        had ended, `JobNotFound` if unknown."""
        async with outage_as_unavailable():
            done = await self._steps.cancel(job_id)
        if done.outcome == "missing" or done.record is None:
            raise JobNotFound(f"No job {job_id!r} (unknown, or expired).")
        job = Job.model_validate_json(done.record)
        if done.outcome == "ended":
            raise JobAlreadyEnded(f"Job {job_id} already ended: {job.status}.")
        JOBS_CANCELED.labels(job.source, done.was).inc()
        log.debug("job %s canceled while %s", job_id, done.was)
        return done.record

    async def follow(self, job_id: str, keepalive_s: float) -> AsyncGenerator[bytes | None, None]:
        """The job's record now, then at each change of its state until it ends (nothing if
        the job is unknown); None after `keepalive_s` without a change. Holds no Redis
        connection while it waits: the process's one subscription wakes it."""
        loop = asyncio.get_running_loop()
        with self.notifier.follow(job_id) as follower:
            raw = await self.get_raw(job_id)
            if raw is None:
                return
            yield raw
            last, quiet_since = status_of(raw), loop.time()
            while not last.is_terminal():
                quiet_s = loop.time() - quiet_since
                with contextlib.suppress(TimeoutError):
                    timeout_s = max(0.0, min(RECHECK_S, keepalive_s - quiet_s))
                    await asyncio.wait_for(follower.woken.wait(), timeout_s)
                follower.woken.clear()
                records = [*follower.updates, await self.get_raw(job_id)]
                follower.updates.clear()
                for record in records:
                    if record is None:
                        return  # the record expired meanwhile
                    if status_of(record) != last:
                        yield record
                        last, quiet_since = status_of(record), loop.time()
                    if last.is_terminal():
                        return
                if loop.time() - quiet_since >= keepalive_s:
                    yield None
                    quiet_since = loop.time()

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
