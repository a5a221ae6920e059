"""The job protocol's transitions against a real redis-server: guarded, atomic, counted."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import timedelta

import pytest
import redis
import redis.asyncio as aioredis

from jobs import protocol
from jobs.contract import (
    BATCH_QUEUE_NAME,
    QUEUE_NAME,
    ErrorCode,
    Job,
    JobError,
    JobResult,
    JobStatus,
    ModelInfo,
    Prediction,
    Priority,
    utcnow,
)
from jobs.protocol import Cancellation, ClientProtocol, Entry, WorkerProtocol
from jobs.settings import QueueSettings
from tests.conftest import submit_job

IMAGE = b"not decoded here"


@pytest.fixture
def steps(client: redis.Redis) -> WorkerProtocol:
    return WorkerProtocol(client, max_attempts=3)


def submitted(
    client: redis.Redis, settings: QueueSettings | None = None, deadline_s: float | None = None
) -> str:
    """What the submit step stores."""
    deadline_at = None if deadline_s is None else utcnow() + timedelta(seconds=deadline_s)
    job = Job(model="imagewoof", top_k=2, source="api", deadline_at=deadline_at)
    settings = settings or QueueSettings(job_ttl_s=600, image_ttl_s=60)
    assert submit_job(client, job, IMAGE, settings).outcome == "queued"
    return job.id


def submitted_together(
    client: redis.Redis, count: int, priority: Priority = Priority.INTERACTIVE
) -> list[str]:
    """Jobs submitted in one step: one script, one queue message."""
    jobs = [Job(model="imagewoof", top_k=2, source="api", priority=priority) for _ in range(count)]
    settings = QueueSettings(job_ttl_s=600, image_ttl_s=60)
    args = protocol.submit_call([Entry(job, IMAGE) for job in jobs], settings, time.time())
    replies = client.register_script(protocol.SUBMIT)([], args)
    assert [protocol.admitted(r, 0).outcome for r in replies] == ["queued"] * count
    return [job.id for job in jobs]


def message_jobs(raw: bytes) -> tuple[list[str], dict[str, bool]]:
    args, kwargs, _ = json.loads(base64.b64decode(json.loads(raw)["body"]))
    assert len(args) == 1
    return args[0], kwargs


def result(label: str) -> str:
    predictions = [Prediction(label=label, score=0.987654321), Prediction(label="x", score=1e-7)]
    return JobResult(predictions=predictions, batch_size=3, inference_ms=12.5).model_dump_json()


def stored(client: redis.Redis, job_id: str) -> Job:
    raw = client.get(protocol.job_key(job_id))
    assert raw is not None
    return Job.model_validate_json(raw)


def test_a_stalled_delivery_does_not_fail_a_job_its_duplicate_finished(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    job_id = submitted(client)
    a = steps.start(job_id, "worker-a")  # delivery A starts, then stalls
    assert a.outcome == "started" and a.image == IMAGE
    b = steps.start(job_id, "worker-b")  # the redelivered copy B
    assert b.outcome == "started" and b.job is not None and b.job.attempts == 2
    assert steps.finish(job_id, JobStatus.SUCCEEDED, result("beagle")) is not None
    assert client.exists(protocol.image_key(job_id)) == 0  # B deleted the image
    # A wakes, finds no image, and would fail the job: nothing is written.
    expired = JobError(code=ErrorCode.IMAGE_EXPIRED, message="gone").model_dump_json()
    assert steps.finish(job_id, JobStatus.FAILED, expired) is None
    job = stored(client, job_id)
    assert job.status == JobStatus.SUCCEEDED and job.error is None
    assert job.result is not None and job.result.predictions[0].label == "beagle"


def test_a_frozen_workers_late_finish_neither_overwrites_nor_resets_attempts(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    job_id = submitted(client)
    steps.start(job_id, "frozen")
    steps.start(job_id, "worker-b")
    steps.finish(job_id, JobStatus.SUCCEEDED, result("beagle"))
    before = client.get(protocol.job_key(job_id))
    assert steps.finish(job_id, JobStatus.SUCCEEDED, result("pug")) is None  # the frozen one
    assert steps.start(job_id, "frozen").outcome == "ended"  # and a late redelivery
    assert client.get(protocol.job_key(job_id)) == before
    job = stored(client, job_id)
    assert job.attempts == 2 and job.worker is None
    assert job.result is not None and job.result.predictions[0].label == "beagle"


def test_the_record_round_trips_through_the_scripts(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    job_id = submitted(client)
    started = steps.start(job_id, "worker-a")
    assert started.job is not None and started.job.status == JobStatus.RUNNING
    assert started.job.worker == "worker-a" and started.job.started_at is not None
    ended = steps.finish(job_id, JobStatus.SUCCEEDED, result("beagle"))
    assert ended == stored(client, job_id)
    assert ended.result is not None and ended.finished_at is not None
    assert [p.score for p in ended.result.predictions] == pytest.approx([0.987654321, 1e-7])
    assert ended.result.batch_size == 3 and ended.top_k == 2 and ended.source == "api"
    assert client.zscore(protocol.QUEUED, job_id) is None
    assert client.smembers(protocol.running_key("worker-a")) == set()


def test_a_job_delivered_past_the_cap_ends_poison_and_loses_its_image(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    job_id = submitted(client)
    for attempt in range(1, 4):  # each delivery's worker dies without finishing
        started = steps.start(job_id, f"worker-{attempt}")
        assert started.outcome == "started" and started.job is not None
        assert started.job.attempts == attempt
    poisoned = steps.start(job_id, "worker-4")
    assert poisoned.outcome == "poison" and poisoned.job is not None
    job = stored(client, job_id)
    assert job.status == JobStatus.FAILED and job.attempts == 3
    assert job.error is not None and job.error.code == ErrorCode.POISON
    assert client.exists(protocol.image_key(job_id)) == 0
    assert steps.start(job_id, "worker-5").outcome == "ended"


def test_a_batch_ends_in_one_call_with_one_wake_up(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    first, second, done_before = submitted(client), submitted(client), submitted(client)
    for job_id in (first, second, done_before):
        steps.start(job_id, "worker-a")
    steps.finish(done_before, JobStatus.SUCCEEDED, result("beagle"))
    with client.pubsub(ignore_subscribe_messages=True) as pubsub:
        pubsub.subscribe(protocol.DONE_CHANNEL)
        pubsub.get_message(timeout=1)
        failed = JobError(code=ErrorCode.DECODE_FAILED, message="bad").model_dump_json()
        ended = steps.finish_many(
            [
                protocol.Ending(first, JobStatus.SUCCEEDED, result("pug")),
                protocol.Ending(second, JobStatus.FAILED, failed),
                protocol.Ending(done_before, JobStatus.FAILED, failed),  # a late duplicate
            ]
        )
        messages = [pubsub.get_message(timeout=0.5) for _ in range(2)]
    assert [job.status if job else None for job in ended] == [
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        None,
    ]
    assert [m["data"].split() for m in messages if m is not None] == [
        [first.encode(), second.encode(), done_before.encode()]
    ]
    assert stored(client, done_before).status == JobStatus.SUCCEEDED
    assert stored(client, second).error is not None


def test_a_dead_workers_running_jobs_are_requeued_by_the_first_reaper_only(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    models = [ModelInfo(name="imagewoof", labels=["beagle"])]
    steps.announce("dead", models, ttl_s=60)
    steps.announce("alive", models, ttl_s=60)
    mine, theirs, held, started_later = (submitted(client) for _ in range(4))
    steps.hold([mine, held, started_later], "dead")  # received; `held` never starts there
    steps.start(mine, "dead")
    steps.start(theirs, "alive")
    steps.hold([started_later], "alive")
    steps.start(started_later, "alive")  # running elsewhere: not the dead worker's to requeue
    assert steps.reap(now=1.0) == ([], [])  # both alive
    client.delete(protocol.worker_key("dead"))  # its heartbeat expired
    assert steps.reap(now=2.0) == ([mine], [held])  # started_later runs on "alive"
    assert steps.reap(now=3.0) == ([], [])
    assert stored(client, held).status == JobStatus.QUEUED
    job = stored(client, mine)
    assert job.status == JobStatus.QUEUED and job.worker is None and job.attempts == 1
    assert client.zscore(protocol.QUEUED, mine) == 2.0
    assert stored(client, theirs).status == JobStatus.RUNNING
    assert client.sismember(protocol.WORKERS, "dead") == 0
    # The requeued job's next delivery starts it as any other.
    started = steps.start(mine, "alive")
    assert started.outcome == "started" and started.job is not None
    assert started.job.attempts == 2


def test_a_queue_message_is_a_celery_task_message_for_its_jobs() -> None:
    message = json.loads(protocol.queue_message(["job-1", "job-2"], suspect=True))
    assert message["headers"]["task"] == "kennel.classify"
    assert message["headers"]["id"] == message["properties"]["correlation_id"]
    assert message["headers"]["kennel_jobs"] == [
        "job-1",
        "job-2",
    ]  # plain JSON: the rescue reads it
    assert message["properties"]["delivery_info"]["routing_key"] == "kennel"
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([["job-1", "job-2"]], {"suspect": True})
    plain = json.loads(protocol.queue_message(["job-3"], queue=BATCH_QUEUE_NAME))
    assert json.loads(base64.b64decode(plain["body"]))[1] == {}
    assert plain["properties"]["delivery_info"]["routing_key"] == BATCH_QUEUE_NAME
    assert plain["properties"]["delivery_tag"] != message["properties"]["delivery_tag"]
    assert plain["headers"]["id"] != message["headers"]["id"]


def cancel(client: redis.Redis, job_id: str) -> Cancellation:
    """The client's cancel step (asynchronous, as the API runs it)."""

    async def run() -> Cancellation:
        kwargs = client.connection_pool.connection_kwargs
        async with aioredis.Redis(host=kwargs["host"], port=kwargs["port"]) as connection:
            return await ClientProtocol(connection).cancel(job_id)

    return asyncio.run(run())


def test_a_canceled_queued_job_is_never_started(client: redis.Redis, steps: WorkerProtocol) -> None:
    job_id = submitted(client, deadline_s=60)
    with client.pubsub(ignore_subscribe_messages=True) as pubsub:
        pubsub.subscribe(protocol.DONE_CHANNEL)
        pubsub.get_message(timeout=1)
        done = cancel(client, job_id)
        woken = pubsub.get_message(timeout=1)
    assert (done.outcome, done.was) == ("canceled", JobStatus.QUEUED)
    assert woken is not None and woken["data"] == job_id.encode()
    job = stored(client, job_id)
    assert job.status == JobStatus.CANCELED and job.finished_at is not None
    assert job.error is not None and job.error.code == ErrorCode.CANCELED
    assert client.exists(protocol.image_key(job_id)) == 0
    assert client.zscore(protocol.QUEUED, job_id) is None
    assert client.zscore(protocol.DEADLINES, job_id) is None
    assert client.ttl(protocol.job_key(job_id)) > 0  # the record keeps its TTL
    late = steps.start(job_id, "worker-a")  # its message still comes
    assert late.outcome == "ended" and late.image is None
    assert stored(client, job_id).attempts == 0


def test_a_canceled_running_jobs_result_is_dropped(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    job_id = submitted(client)
    steps.start(job_id, "worker-a")
    done = cancel(client, job_id)
    assert (done.outcome, done.was) == ("canceled", JobStatus.RUNNING)
    assert client.smembers(protocol.running_key("worker-a")) == set()
    assert steps.finish(job_id, JobStatus.SUCCEEDED, result("beagle")) is None
    job = stored(client, job_id)
    assert job.status == JobStatus.CANCELED and job.result is None and job.worker is None
    assert job.attempts == 1 and job.started_at is not None


def test_a_finished_job_cannot_be_canceled_nor_a_canceled_one_again(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    finished, canceled = submitted(client), submitted(client)
    steps.start(finished, "worker-a")
    steps.finish(finished, JobStatus.SUCCEEDED, result("beagle"))
    before = client.get(protocol.job_key(finished))
    done = cancel(client, finished)
    assert done.outcome == "ended" and done.record == before
    assert client.get(protocol.job_key(finished)) == before
    assert cancel(client, canceled).outcome == "canceled"
    again = cancel(client, canceled)
    assert again.outcome == "ended" and again.record is not None
    assert Job.model_validate_json(again.record).status == JobStatus.CANCELED
    assert cancel(client, "no-such-job") == Cancellation("missing", None, None)


def test_start_refuses_a_job_past_its_deadline(client: redis.Redis, steps: WorkerProtocol) -> None:
    overdue, in_time = submitted(client, deadline_s=-1), submitted(client, deadline_s=60)
    refused = steps.start(overdue, "worker-a")
    assert refused.outcome == "expired" and refused.image is None and refused.job is not None
    job = stored(client, overdue)
    assert job.status == JobStatus.EXPIRED and job.started_at is None and job.attempts == 0
    assert job.error is not None and job.error.code == ErrorCode.DEADLINE_EXCEEDED
    assert client.exists(protocol.image_key(overdue)) == 0
    assert client.smembers(protocol.running_key("worker-a")) == set()
    started = steps.start(in_time, "worker-a")
    assert started.outcome == "started" and started.image == IMAGE
    assert client.zscore(protocol.DEADLINES, in_time) is None  # a started job cannot expire


def test_the_sweep_expires_only_queued_jobs_past_their_deadline(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    overdue, in_time, no_deadline = (submitted(client, deadline_s=s) for s in (-1, 60, None))
    started, canceled = submitted(client, deadline_s=-1), submitted(client, deadline_s=-1)
    client.zadd(protocol.DEADLINES, {started: 0})  # as if it started just before its deadline
    client.set(
        protocol.job_key(started),
        stored(client, started).model_copy(update={"status": JobStatus.RUNNING}).model_dump_json(),
    )
    cancel(client, canceled)
    expired = steps.expire()
    assert [job.id for job in expired] == [overdue]
    assert expired[0].status == JobStatus.EXPIRED and expired[0].finished_at is not None
    assert stored(client, overdue) == expired[0]
    assert {stored(client, i).status for i in (in_time, no_deadline)} == {JobStatus.QUEUED}
    assert stored(client, started).status == JobStatus.RUNNING
    assert client.zrange(protocol.DEADLINES, 0, -1) == [in_time.encode()]
    assert client.zscore(protocol.QUEUED, overdue) is None
    assert steps.expire() == []


def test_start_publishes_the_running_record(client: redis.Redis, steps: WorkerProtocol) -> None:
    job_id = submitted(client)
    with client.pubsub(ignore_subscribe_messages=True) as pubsub:
        pubsub.subscribe(protocol.RUNNING_CHANNEL)
        pubsub.get_message(timeout=1)
        steps.start(job_id, "worker-a")
        message = pubsub.get_message(timeout=1)
    assert message is not None
    published_id, record = protocol.running_update(message["data"])
    assert published_id == job_id
    assert Job.model_validate_json(record) == stored(client, job_id)


def test_jobs_submitted_together_share_one_message_in_their_prioritys_queue(
    client: redis.Redis,
) -> None:
    interactive = submitted_together(client, 3)
    batch = submitted_together(client, 2, Priority.BATCH)
    assert [message_jobs(m)[0] for m in client.lrange(QUEUE_NAME, 0, -1)] == [interactive]
    assert [message_jobs(m)[0] for m in client.lrange(BATCH_QUEUE_NAME, 0, -1)] == [batch]
    assert client.zcard(protocol.QUEUED) == 5
    assert stored(client, batch[0]).priority == Priority.BATCH


def test_a_message_starts_in_one_call_and_skips_its_ended_jobs(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    first, second, third = submitted_together(client, 3)
    steps.start(first, "worker-a")
    steps.finish(first, JobStatus.SUCCEEDED, result("beagle"))  # ended before the redelivery
    client.delete(protocol.job_key(third))  # expired
    outcomes = steps.start_many([first, second, third], "worker-b")
    assert [s.outcome for s in outcomes] == ["ended", "started", "missing"]
    assert outcomes[1].image == IMAGE and outcomes[0].image is None
    assert stored(client, first).status == JobStatus.SUCCEEDED
    assert stored(client, first).attempts == 1


def test_old_batch_messages_move_to_the_front_of_the_interactive_queue(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    client.lpush(BATCH_QUEUE_NAME, protocol.queue_message(["old"], queue=BATCH_QUEUE_NAME, now=10))
    client.lpush(BATCH_QUEUE_NAME, protocol.queue_message(["new"], queue=BATCH_QUEUE_NAME, now=50))
    client.lpush(QUEUE_NAME, protocol.queue_message(["waiting"], now=60))
    assert steps.promote(cutoff=20) == 1
    assert steps.promote(cutoff=20) == 0
    # kombu takes from the right: the old batch message is next, then the interactive one.
    assert [message_jobs(m)[0] for m in client.lrange(QUEUE_NAME, 0, -1)] == [["waiting"], ["old"]]
    assert [message_jobs(m)[0] for m in client.lrange(BATCH_QUEUE_NAME, 0, -1)] == [["new"]]


def test_requeued_suspects_get_a_message_each_and_lost_jobs_share_one(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    steps.requeue(["a", "b"], suspect=True)
    steps.requeue(["c", "d"], suspect=False)
    messages = [message_jobs(m) for m in reversed(client.lrange(QUEUE_NAME, 0, -1))]
    assert messages == [(["c", "d"], {}), (["b"], {"suspect": True}), (["a"], {"suspect": True})]
