"""A worker killed with SIGKILL in the middle of a batch: its jobs finish on another worker."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import redis

from jobs.contract import QUEUE_NAME
from tests.conftest import finished_job, start_system

N_JOBS = 120


def test_jobs_of_a_killed_worker_finish_on_another(tmp_path: Path, dog_jpeg: bytes) -> None:
    # A worker gone for good (no restart): another one must finish its jobs.
    system = start_system(tmp_path, restart_workers=False)
    try:
        victim = system.workers[0]

        async def run() -> tuple[list[dict[str, Any]], Counter[str]]:
            async with httpx.AsyncClient(base_url=system.api_url, timeout=60) as client:
                submitted = await asyncio.gather(
                    *(client.post("/jobs", files={"image": dog_jpeg}) for _ in range(N_JOBS))
                )
                ids = [r.json()["id"] for r in submitted]
                at_kill = await _kill_mid_batch(client, ids, victim.kill)
                system.add_worker()
                jobs = await asyncio.gather(*(finished_job(client, i, 120) for i in ids))
                return list(jobs), at_kill

        jobs, at_kill = asyncio.run(run())
    finally:
        system.stop()
    print(f"\njob states when the worker was killed: {dict(at_kill)}")
    assert at_kill["running"] > 0, "the worker was not in the middle of a batch"
    assert not victim.alive()
    assert Counter(job["status"] for job in jobs) == {"succeeded": N_JOBS}
    assert all(job["result"]["predictions"][0]["label"] == "golden retriever" for job in jobs)
    # Jobs the dead worker had started were redelivered and started again by the new one.
    assert max(job["attempts"] for job in jobs) >= 2


async def _kill_mid_batch(client: httpx.AsyncClient, ids: list[str], kill: Any) -> Counter[str]:
    """SIGKILL the worker as soon as it has finished some jobs and is running others."""
    for _ in range(2000):
        replies = await asyncio.gather(*(client.get(f"/jobs/{job_id}") for job_id in ids[:40]))
        states = Counter(reply.json()["status"] for reply in replies)
        if states["succeeded"] and states["running"]:
            kill()
            return states
        await asyncio.sleep(0.005)
    raise AssertionError("never saw the worker mid-batch")


def test_a_job_whose_message_was_lost_is_requeued_and_succeeds(
    tmp_path: Path, dog_jpeg: bytes
) -> None:
    """What a worker killed between taking a message and recording it leaves behind: a queued
    job with no message anywhere. Made here on purpose: the message is taken off the queue."""
    system = start_system(tmp_path, restart_workers=False)
    try:
        system.workers[0].stop()  # its models stay announced; nothing consumes now
        with httpx.Client(base_url=system.api_url, timeout=30) as client:
            job_id = client.post("/jobs", files={"image": dog_jpeg}).json()["id"]
            with redis.Redis.from_url(system.redis_url) as broker:
                message = broker.rpop(QUEUE_NAME)
            assert message is not None and job_id.encode() in message
            system.add_worker()
            job = asyncio.run(_follow(system.api_url, job_id))
    finally:
        system.stop()
    assert job["status"] == "succeeded"
    assert job["attempts"] == 1  # requeued, not redelivered: it never started before


async def _follow(url: str, job_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await finished_job(client, job_id, 90)
