"""Jobs whose queue message was lost are requeued once, and only those (against a real Redis)."""

from __future__ import annotations

import time

import pytest
import redis

from jobs import protocol
from jobs.contract import BATCH_QUEUE_NAME, QUEUE_NAME, Job, JobStatus
from jobs.protocol import WorkerProtocol
from worker.rescue import Rescuer

AFTER_S = 10.0


@pytest.fixture
def rescuer(client: redis.Redis) -> Rescuer:
    return Rescuer(WorkerProtocol(client, max_attempts=3), AFTER_S)


def submit(client: redis.Redis, submitted_at: float, status: JobStatus = JobStatus.QUEUED) -> str:
    """What JobClient.submit writes (the message itself is up to each test)."""
    job = Job(model="imagewoof", top_k=5, source="api", status=status)
    client.set(protocol.job_key(job.id), job.model_dump_json())
    client.zadd(protocol.QUEUED, {job.id: submitted_at})
    return job.id


def test_an_old_job_with_no_message_anywhere_is_requeued_once(
    client: redis.Redis, rescuer: Rescuer
) -> None:
    sweeper = rescuer
    now = time.time()
    lost = submit(client, now - AFTER_S - 1)
    assert sweeper.sweep(now) == [lost]
    assert sweeper.sweep(now) == []  # claimed again only after another AFTER_S
    assert sweeper.sweep(now + AFTER_S + 1) == [lost]


def test_jobs_whose_message_exists_or_that_are_young_are_left_alone(
    client: redis.Redis, rescuer: Rescuer
) -> None:
    sweeper = rescuer
    now = time.time()
    waiting = submit(client, now - AFTER_S - 1)
    client.lpush(QUEUE_NAME, f'{{"headers": {{"id": "{waiting}"}}}}')
    held = submit(client, now - AFTER_S - 1)
    client.hset(protocol.UNACKED, "tag-1", f'[{{"headers": {{"id": "{held}"}}}}, "", "kennel"]')
    submit(client, now - 1)  # young: its message may be on its way
    assert sweeper.sweep(now) == []


def test_jobs_named_in_a_message_of_several_in_either_queue_are_left_alone(
    client: redis.Redis, rescuer: Rescuer
) -> None:
    now = time.time()
    first, second, lost = (submit(client, now - AFTER_S - 1) for _ in range(3))
    client.lpush(BATCH_QUEUE_NAME, protocol.queue_message([first, second], queue=BATCH_QUEUE_NAME))
    assert rescuer.sweep(now) == [lost]


def test_jobs_that_started_or_expired_are_dropped_not_requeued(
    client: redis.Redis, rescuer: Rescuer
) -> None:
    sweeper = rescuer
    now = time.time()
    started = submit(client, now - AFTER_S - 1, status=JobStatus.RUNNING)
    expired = submit(client, now - AFTER_S - 1)
    client.delete(protocol.job_key(expired))
    assert sweeper.sweep(now) == []
    assert client.zscore(protocol.QUEUED, started) is None
    assert client.zscore(protocol.QUEUED, expired) is None


def test_starting_a_job_takes_it_off_the_queued_set(client: redis.Redis, rescuer: Rescuer) -> None:
    job_id = submit(client, time.time() - AFTER_S - 1)
    assert rescuer.protocol.start(job_id, "worker-a").outcome == "started"
    assert client.zscore(protocol.QUEUED, job_id) is None
