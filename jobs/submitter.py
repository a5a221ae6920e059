"""Submissions that arrive together are stored together: one transaction, one queue message.

A Celery message costs the worker about as much to receive and acknowledge whatever it carries,
so the jobs a process submits within `window_s` of each other (for the same model and priority)
go into one message, written in the same transaction as their records and images
(`protocol.store_jobs`): no job is ever stored without its message, and no message names a job
that is not stored. Each submitter waits for that transaction and only then answers 202.

The window opens with the first submission and closes after `window_s`, or at once when it
holds `max_jobs`. Under load the clients that one batch of results just answered submit again
at almost the same moment, so their jobs share a message; a lone client waits `window_s`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from jobs import protocol
from jobs.contract import Job, Priority


@dataclass
class _Group:
    jobs: list[tuple[Job, bytes]] = field(default_factory=list)
    stored: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Submitter:
    def __init__(
        self,
        redis: aioredis.Redis,
        window_s: float,
        max_jobs: int,
        job_ttl_s: int,
        image_ttl_s: int,
    ) -> None:
        self._redis = redis
        self.window_s = window_s
        self.max_jobs = max_jobs
        self._ttls = (job_ttl_s, image_ttl_s)
        self._open: dict[tuple[str, Priority], _Group] = {}
        self._writing: set[asyncio.Task[None]] = set()

    async def submit(self, job: Job, image: bytes) -> None:
        """Store the job and queue it (in a message shared with its neighbours in time);
        raises what the transaction raised (Redis unreachable) for every job in it."""
        key = (job.model, job.priority)
        group = self._open.get(key)
        if group is None:
            group = self._open[key] = _Group()
            asyncio.get_running_loop().call_later(self.window_s, self._close, key, group)
        group.jobs.append((job, image))
        if len(group.jobs) >= self.max_jobs:
            self._close(key, group)
        # shield: a submitter whose request is cancelled leaves its neighbours' write alone.
        await asyncio.shield(group.stored)

    def _close(self, key: tuple[str, Priority], group: _Group) -> None:
        if self._open.get(key) is not group:
            return  # closed already (it filled up before its window ended)
        del self._open[key]
        task = asyncio.create_task(self._store(group))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _store(self, group: _Group) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                protocol.store_jobs(pipe, group.jobs, *self._ttls)
                await pipe.execute()
        except BaseException as exc:
            group.stored.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        else:
            group.stored.set_result(None)
