"""Submissions gathered into one submit step and one queue message, against a real redis-server."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from jobs import protocol
from jobs.contract import BATCH_QUEUE_NAME, QUEUE_NAME, Job, JobStatus, Priority
from jobs.settings import QueueSettings
from jobs.submitter import Submitter
from stack.processes import free_port

IMAGE = b"not decoded here"


def job(model: str = "imagewoof", priority: Priority = Priority.INTERACTIVE) -> Job:
    return Job(model=model, top_k=1, source="api", priority=priority)


def messages(url: str, queue: str) -> list[list[str]]:
    with redis.Redis.from_url(url) as client:
        raw = client.lrange(queue, 0, -1)
    return [json.loads(base64.b64decode(json.loads(m)["body"]))[0][0] for m in reversed(raw)]


async def submit_all(
    url: str, jobs: list[Job], window_s: float, max_jobs: int, **bounds: int
) -> list[str]:
    """Each job's outcome."""
    client = aioredis.Redis.from_url(url)
    settings = QueueSettings(
        submit_window_ms=window_s * 1000, submit_max_jobs=max_jobs, image_ttl_s=60, **bounds
    )
    try:
        submitter = Submitter(protocol.ClientProtocol(client), settings)
        done = await asyncio.gather(*(submitter.submit(protocol.Entry(j, IMAGE)) for j in jobs))
        return [admitted.outcome for admitted in done]
    finally:
        await client.aclose()


def test_jobs_submitted_within_the_window_share_one_message(redis_url: str) -> None:
    jobs = [job() for _ in range(5)]
    assert asyncio.run(submit_all(redis_url, jobs, window_s=0.01, max_jobs=16)) == ["queued"] * 5
    assert messages(redis_url, QUEUE_NAME) == [[j.id for j in jobs]]
    with redis.Redis.from_url(redis_url) as client:
        assert client.zcard(protocol.QUEUED) == 5
        stored = [Job.model_validate_json(client.get(protocol.job_key(j.id)) or b"") for j in jobs]
        assert all(s.status == JobStatus.QUEUED for s in stored)
        assert all(client.get(protocol.image_key(j.id)) == IMAGE for j in jobs)


def test_a_message_holds_at_most_max_jobs_and_one_model_and_priority(redis_url: str) -> None:
    same = [job() for _ in range(5)]
    other_model, batch = job("imagenet"), job(priority=Priority.BATCH)
    asyncio.run(submit_all(redis_url, [*same, other_model, batch], window_s=0.01, max_jobs=2))
    assert sorted(messages(redis_url, QUEUE_NAME)) == sorted(
        [[same[0].id, same[1].id], [same[2].id, same[3].id], [other_model.id], [same[4].id]]
    )
    assert messages(redis_url, BATCH_QUEUE_NAME) == [[batch.id]]


def test_every_submitter_of_a_failed_transaction_sees_the_error() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with pytest.raises(RedisConnectionError):
        asyncio.run(submit_all(url, [job(), job()], window_s=0.001, max_jobs=16))


def test_each_job_of_a_message_is_admitted_on_its_own(redis_url: str) -> None:
    jobs = [job() for _ in range(5)]
    outcomes = asyncio.run(submit_all(redis_url, jobs, window_s=0.01, max_jobs=16, max_queued=3))
    assert outcomes == ["queued"] * 3 + ["full"] * 2
    assert messages(redis_url, QUEUE_NAME) == [[j.id for j in jobs]]  # refused ids: skipped
    with redis.Redis.from_url(redis_url) as client:
        assert client.zcard(protocol.QUEUED) == 3
        assert [client.exists(protocol.job_key(j.id)) for j in jobs] == [1, 1, 1, 0, 0]
