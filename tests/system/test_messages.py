"""Queue messages that carry several jobs, against the real system: all their jobs end, a
duplicate or redelivered message skips the jobs that ended, and a worker killed in the middle of
a message loses none of them."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import redis

from jobs import protocol
from tests.conftest import finished_job, start_system

# A wide window so that the jobs posted together below surely share messages.
GATHERING = {"KENNEL_SUBMIT_WINDOW_MS": "50", "KENNEL_SUBMIT_MAX_JOBS": "8"}


def message_ids(raw: bytes) -> list[str]:
    args, _, _ = json.loads(base64.b64decode(json.loads(raw)["body"]))
    ids: list[str] = args[0]
    assert json.loads(raw)["headers"]["kennel_jobs"] == ids
    return ids


async def post_all(client: httpx.AsyncClient, image: bytes, count: int) -> list[str]:
    replies = await asyncio.gather(
        *(client.post("/jobs", files={"image": image}) for _ in range(count))
    )
    assert all(r.status_code == 202 for r in replies)
    return [r.json()["id"] for r in replies]


def queued_messages(broker: redis.Redis) -> list[bytes]:
    return [m for q in protocol.QUEUES for m in broker.lrange(q, 0, -1)]


def test_a_message_runs_all_its_jobs_and_a_duplicate_of_it_changes_nothing(
    tmp_path: Path, dog_jpeg: bytes
) -> None:
    system = start_system(tmp_path, restart_workers=False, **GATHERING)
    try:
        system.workers[0].stop()  # its models stay announced; the messages wait in the queue

        async def run() -> tuple[list[bytes], list[dict[str, Any]], list[dict[str, Any]]]:
            async with httpx.AsyncClient(base_url=system.api_url, timeout=60) as client:
                ids = await post_all(client, dog_jpeg, 12)
                with redis.Redis.from_url(system.redis_url) as broker:
                    messages = queued_messages(broker)
                    system.add_worker()
                    jobs = await asyncio.gather(*(finished_job(client, i) for i in ids))
                    for message in messages:  # the same messages again: late duplicates
                        broker.rpush(protocol.QUEUE_NAME, message)
                    await _until_consumed(broker)
                again = await asyncio.gather(*(finished_job(client, i) for i in ids))
                return messages, list(jobs), list(again)

        messages, jobs, again = asyncio.run(run())
    finally:
        system.stop()
    carried = [message_ids(m) for m in messages]
    assert sorted(i for ids in carried for i in ids) == sorted(j["id"] for j in jobs)
    assert len(carried) < len(jobs) and max(len(ids) for ids in carried) > 1
    assert Counter(job["status"] for job in jobs) == {"succeeded": len(jobs)}
    assert all(job["result"]["predictions"][0]["label"] == "golden retriever" for job in jobs)
    assert all(job["attempts"] == 1 for job in jobs)
    assert again == jobs  # the duplicates started nothing and wrote nothing


async def _until_consumed(broker: redis.Redis, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while queued_messages(broker) or broker.hlen(protocol.UNACKED):
        assert time.monotonic() < deadline, "the messages were not consumed"
        await asyncio.sleep(0.1)


def test_a_worker_killed_in_the_middle_of_a_message_loses_none_of_its_jobs(
    tmp_path: Path, dog_jpeg: bytes
) -> None:
    """SIGKILL while messages of several jobs are held: the survivor's reaper requeues the
    running jobs, kombu redelivers the unacknowledged messages after the (short) redelivery
    timeout, and their jobs that ended meanwhile are skipped. Every job ends succeeded."""
    system = start_system(
        tmp_path,
        workers=2,
        restart_workers=False,
        KENNEL_WORKER_HEARTBEAT_S="1",
        KENNEL_REDELIVERY_TIMEOUT_S="10",
        **GATHERING,
    )
    try:
        victim = system.workers[0]

        async def run() -> list[dict[str, Any]]:
            async with httpx.AsyncClient(base_url=system.api_url, timeout=60) as client:
                ids = await post_all(client, dog_jpeg, 24)
                await _kill_while_running(client, ids, victim.pid, victim.kill)
                jobs = await asyncio.gather(*(finished_job(client, i, 90) for i in ids))
                with redis.Redis.from_url(system.redis_url) as broker:
                    await _until_consumed(broker, 60)  # the redelivered messages too
                again = await asyncio.gather(*(finished_job(client, i) for i in ids))
                assert list(again) == list(jobs)  # redelivered messages skipped ended jobs
                return list(jobs)

        jobs = asyncio.run(run())
    finally:
        system.stop()
    assert not victim.alive()
    assert Counter(job["status"] for job in jobs) == {"succeeded": len(jobs)}
    assert all(job["result"]["predictions"][0]["label"] == "golden retriever" for job in jobs)
    assert max(job["attempts"] for job in jobs) >= 2  # the victim's jobs ran again


async def _kill_while_running(
    client: httpx.AsyncClient, ids: list[str], pid: int | None, kill: Any
) -> None:
    for _ in range(2000):
        replies = [r.json() for r in await asyncio.gather(*(client.get(f"/jobs/{i}") for i in ids))]
        if any(r["status"] == "running" and r["worker"].endswith(f":{pid}") for r in replies):
            kill()
            return
        await asyncio.sleep(0.005)
    raise AssertionError("never saw the victim running a job")
