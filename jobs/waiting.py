"""One subscription per process wakes every request that waits for a job to end.

Workers publish the ids of jobs that end on `protocol.DONE_CHANNEL`, the record of a job that
starts running on `protocol.RUNNING_CHANNEL` (and announcements on `protocol.ANNOUNCE_CHANNEL`).
`Notifier` holds ONE Redis pub/sub connection for the whole process, started on first use; a
waiter registers an `asyncio.Event` under its job id (`watch`: woken when the job may have
ended) and holds no Redis connection while it waits. A follower (`follow`, the events stream)
also gets the records of its job's state changes, in the order Redis published them. After a
reconnect every waiter is woken to read its job again, in case a notification was missed while
the subscription was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from jobs import protocol

log = logging.getLogger(__name__)

# How long one read of the subscription waits; the loop's only cost when nothing happens.
LISTEN_SLICE_S = 1.0
RECONNECT_S = 0.5
CLOSE_WAIT_S = 0.1
T = TypeVar("T")


@dataclass(eq=False)
class Follower:
    """`woken` is set when the job may have changed; `updates` holds the records of its state
    changes published since (today: `running`), oldest first. Read the job to know the rest."""

    woken: asyncio.Event = field(default_factory=asyncio.Event)
    updates: list[bytes] = field(default_factory=list)


class Notifier:
    def __init__(self, redis: aioredis.Redis, on_announce: Callable[[], None]) -> None:
        self._redis = redis
        self._on_announce = on_announce
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._followers: dict[str, set[Follower]] = {}
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Event]:
        """An event set when `job_id` may have ended (read the job to know)."""
        event = asyncio.Event()
        with self._registered(self._waiters, job_id, event):
            yield event

    @contextlib.contextmanager
    def follow(self, job_id: str) -> Iterator[Follower]:
        """Woken when `job_id` starts running (with its record) or may have ended."""
        follower = Follower()
        with self._registered(self._followers, job_id, follower):
            yield follower

    @contextlib.contextmanager
    def _registered(self, table: dict[str, set[T]], job_id: str, item: T) -> Iterator[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(), name="kennel-notifier")
        table.setdefault(job_id, set()).add(item)
        try:
            yield
        finally:
            items = table.get(job_id)
            if items is not None:
                items.discard(item)
                if not items:
                    del table[job_id]

    @property
    def waiting(self) -> int:
        return sum(len(events) for events in self._waiters.values()) + sum(
            len(followers) for followers in self._followers.values()
        )

    async def close(self) -> None:
        # Cancel until it is done: on Python 3.11 a cancel that lands as redis-py's read timeout
        # fires can come out as a TimeoutError (an OSError), which `_listen` survives.
        while self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=CLOSE_WAIT_S)

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(
                    protocol.DONE_CHANNEL, protocol.RUNNING_CHANNEL, protocol.ANNOUNCE_CHANNEL
                )
                self._wake_all()  # anything that ended while nobody listened
                while True:
                    message = await pubsub.get_message(timeout=LISTEN_SLICE_S)
                    if message is not None:
                        self._dispatch(message["channel"], message["data"])
            except (RedisError, OSError) as exc:
                log.warning("job notifications interrupted (%s); resubscribing", exc)
                await asyncio.sleep(RECONNECT_S)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _dispatch(self, channel: bytes, data: bytes) -> None:
        name = channel.decode()
        if name == protocol.ANNOUNCE_CHANNEL:
            self._on_announce()
        elif name == protocol.RUNNING_CHANNEL:
            job_id, record = protocol.running_update(data)
            for follower in self._followers.get(job_id, ()):
                follower.updates.append(record)
                follower.woken.set()
        else:
            for job_id in data.decode().split():
                for event in self._waiters.get(job_id, ()):
                    event.set()
                for follower in self._followers.get(job_id, ()):
                    follower.woken.set()

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()
        for followers in self._followers.values():
            for follower in followers:
                follower.woken.set()
