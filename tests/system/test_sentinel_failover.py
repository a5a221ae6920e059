"""Redis Sentinel: the master is SIGKILLed under load. Every job answered 202 ends (succeeded),
and the API answers 503 only from the kill until shortly after the failover.

A master, two replicas (so that one is left to confirm submissions after the failover) and three
sentinels (down after 1 s); the API and one worker find the master through the sentinels, and
wait for one replica to confirm each submission (KENNEL_REDIS_MIN_REPLICAS's default with
sentinels). Prints the failover times (the figures in docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import redis

from jobs.connection import RedisTarget
from jobs.protocol import UNACKED
from stack.sentinel import SentinelSet
from stack.system import LocalSystem
from tests.conftest import SYSTEM_ENV

CLIENTS = 3  # each submits a job and waits for it, then the next
PROBE_EVERY_S = 0.1  # and one more submits this often without waiting, to time the outage
BEFORE_KILL_S = 3.0
# Load goes on this long after the first job accepted after the kill, at most LOAD_LIMIT_S.
AFTER_RECOVERY_S = 3.0
LOAD_LIMIT_S = 40.0
# 503s may go on this long after the sentinels name the new master (clients reconnecting).
GRACE_S = 5.0


@dataclass(frozen=True)
class Answer:
    sent: float
    answered: float
    request: str
    status: int


@dataclass
class Load:
    answers: list[Answer] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    killed_wall: float = 0.0  # the kill, in epoch seconds (jobs' timestamps are wall-clock)

    async def client(self, http: httpx.AsyncClient, image: bytes) -> None:
        """Closed loop: submit, then long-poll the job; after a 503, pause briefly."""
        while not self.stop.is_set():
            submitted = await self._call(http, "POST /jobs", "/jobs", files={"image": image})
            if submitted.status_code == 202:
                job_id = submitted.json()["id"]
                self.accepted.append(job_id)
                await self._call(http, "GET /jobs/{id}", f"/jobs/{job_id}?wait=10")
            else:
                await asyncio.sleep(PROBE_EVERY_S)

    async def prober(self, http: httpx.AsyncClient, image: bytes) -> None:
        while not self.stop.is_set():
            submitted = await self._call(http, "POST /jobs", "/jobs", files={"image": image})
            if submitted.status_code == 202:
                self.accepted.append(submitted.json()["id"])
            await asyncio.sleep(PROBE_EVERY_S)

    async def _call(
        self, http: httpx.AsyncClient, request: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        sent = time.monotonic()
        response = await http.request(request.split()[0], path, **kwargs)
        self.answers.append(Answer(sent, time.monotonic(), request, response.status_code))
        return response

    def first_accepted_after(self, moment: float) -> Answer | None:
        after = [a for a in self.answers if a.status == 202 and a.sent > moment]
        return min(after, key=lambda a: a.answered, default=None)


async def _watch_failover(redis_set: SentinelSet, old_port: int, switched: list[float]) -> None:
    """Note when a majority of the sentinels names a new master."""
    while not switched:
        ports = await asyncio.to_thread(lambda: [s.master_port() for s in redis_set.sentinels])
        if sum(p is not None and p != old_port for p in ports) > len(ports) // 2:
            switched.append(time.monotonic())
        await asyncio.sleep(0.05)


async def _ended(http: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = (await http.get(f"/jobs/{job_id}?wait=10")).json()
        if job["status"] in ("succeeded", "failed"):
            return job
    raise AssertionError(f"job {job_id} did not end")


def test_jobs_survive_the_loss_of_the_master(tmp_path: Path, dog_jpeg: bytes) -> None:
    with SentinelSet(tmp_path / "redis") as redis_set:
        system = LocalSystem(
            tmp_path / "kennel",
            redis_url=redis_set.master.url,
            env={
                **SYSTEM_ENV,
                "KENNEL_REDIS_SENTINELS": redis_set.addresses,
                "KENNEL_REDIS_MASTER": redis_set.name,
            },
            persist_redis=False,
            min_worker_uptime_s=1,
        )
        try:
            system.start()
            load, killed_at, switched_at, jobs = asyncio.run(_scenario(system, redis_set, dog_jpeg))
            # The worker's Celery consumer may have died with the master holding messages (kombu
            # fails to restore them on a lost connection; the supervisor restarts it): the
            # visibility timeout gives them back through the sentinels, and they are acknowledged.
            target = RedisTarget("redis://", _sentinels(redis_set), redis_set.name)
            with target.sync_client(socket_timeout=2) as new_master:
                unacked, given_back_s = _unacked_given_back(new_master, 30)
        finally:
            system.stop()
    recovered = load.first_accepted_after(killed_at)
    assert recovered is not None, "no job was accepted after the kill"
    statuses = Counter(a.status for a in load.answers)
    unavailable = [a for a in load.answers if a.status == 503]
    after = [j for j in jobs if _epoch(j["created_at"]) > load.killed_wall]
    first_done = min(_epoch(j["finished_at"]) for j in after) - load.killed_wall
    print(
        f"\nanswers: {dict(statuses)}; jobs accepted: {len(load.accepted)}; "
        f"sentinels named the new master {switched_at - killed_at:.2f} s after the kill; "
        f"first job accepted after the kill: {recovered.answered - killed_at:.2f} s after it, "
        f"first such job finished {first_done:.2f} s after it; "
        f"503s from {min((a.answered for a in unavailable), default=killed_at) - killed_at:.2f} "
        f"to {max((a.answered for a in unavailable), default=killed_at) - killed_at:.2f} s; "
        f"{unacked} message(s) left unacknowledged, none {given_back_s:.1f} s later"
    )
    assert set(statuses) <= {200, 202, 503}, statuses
    assert all(killed_at <= a.answered <= switched_at + GRACE_S for a in unavailable), [
        (a.request, round(a.answered - killed_at, 2)) for a in unavailable
    ]
    assert Counter(job["status"] for job in jobs) == {"succeeded": len(load.accepted)}
    assert all(job["result"]["predictions"][0]["label"] == "golden retriever" for job in jobs)


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def _sentinels(redis_set: SentinelSet) -> tuple[tuple[str, int], ...]:
    return tuple(("127.0.0.1", s.port) for s in redis_set.sentinels)


def _unacked_given_back(client: redis.Redis, timeout_s: float) -> tuple[int, float]:
    """Unacknowledged messages once every job ended, and how long until none was left."""
    started = time.monotonic()
    unacked = left = client.hlen(UNACKED)
    while left:
        assert time.monotonic() - started < timeout_s, f"unacked messages left: {left}"
        time.sleep(0.2)
        left = client.hlen(UNACKED)
    return unacked, time.monotonic() - started


async def _scenario(
    system: LocalSystem, redis_set: SentinelSet, image: bytes
) -> tuple[Load, float, float, list[dict[str, Any]]]:
    load = Load()
    async with httpx.AsyncClient(base_url=system.api_url, timeout=30) as http:
        clients = [asyncio.create_task(load.client(http, image)) for _ in range(CLIENTS)]
        clients.append(asyncio.create_task(load.prober(http, image)))
        await asyncio.sleep(BEFORE_KILL_S)
        old_port = redis_set.master.port
        redis_set.master.service.kill()
        killed_at = time.monotonic()
        load.killed_wall = time.time()
        switched: list[float] = []
        watcher = asyncio.create_task(_watch_failover(redis_set, old_port, switched))
        while time.monotonic() - killed_at < LOAD_LIMIT_S:
            recovered = load.first_accepted_after(killed_at)
            if recovered and time.monotonic() - recovered.answered > AFTER_RECOVERY_S:
                break
            await asyncio.sleep(0.1)
        load.stop.set()
        await asyncio.gather(*clients)
        await asyncio.wait_for(watcher, 10)
        jobs = await asyncio.gather(*(_ended(http, job_id) for job_id in load.accepted))
    return load, killed_at, switched[0], list(jobs)
