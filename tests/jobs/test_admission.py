"""Admission against a real redis-server: the waiting accounting on every path a job leaves the
queue by, the bounds under a concurrent burst, idempotency, and the estimates (pure)."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
import redis
import redis.asyncio

from jobs import admission, protocol
from jobs.client import JobClient
from jobs.contract import ErrorCode, Job, JobError, JobStatus, ModelInfo
from jobs.errors import DeadlineUnreachable, IdempotencyKeyReused, QueueFull
from jobs.protocol import QueueState, Throughput, WorkerProtocol
from jobs.settings import QueueSettings
from stack.redis import EmbeddedRedis
from tests.conftest import fake_throughput, photo, submit_job

MODEL = "imagewoof"
IMAGE = b"not decoded here"
DOG = photo("grad_dog_cat.jfif").data


@pytest.fixture
def steps(client: redis.Redis) -> WorkerProtocol:
    steps = WorkerProtocol(client, max_attempts=1)
    steps.announce("worker-a", [ModelInfo(name=MODEL, labels=["beagle"])], ttl_s=60)
    return steps


def submit(
    client: redis.Redis, image: bytes = IMAGE, inline: bool = True, **settings: int
) -> protocol.Admitted:
    job = Job(model=MODEL, top_k=2, source="api")
    return submit_job(client, job, image, QueueSettings(**settings), inline)


def job_id(admitted: protocol.Admitted, client: redis.Redis) -> str:
    ids = client.zrange(protocol.waiting_key(MODEL), -1, -1)
    assert admitted.outcome == "queued" and ids
    return str(ids[0].decode())


def accounted(client: redis.Redis) -> tuple[int, int, int]:
    """(jobs waiting for MODEL, image bytes held, sizes held): the accounting, as stored."""
    count = client.zcard(protocol.waiting_key(MODEL))
    return count, int(client.get(protocol.IMAGE_BYTES) or 0), client.hlen(protocol.IMAGE_SIZES)


def failed() -> str:
    return JobError(code=ErrorCode.DECODE_FAILED, message="bad").model_dump_json()


def test_the_accounting_follows_a_job_out_by_every_path(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    size = len(IMAGE)
    a, b, c = (job_id(submit(client, inline=inline), client) for inline in (True, False, True))
    assert accounted(client) == (3, 3 * size, 3)
    assert client.llen(protocol.QUEUE_NAME) == 3 and client.exists(protocol.image_key(b))
    steps.start(a, "worker-a")  # start: no longer waiting, its image still held
    assert accounted(client) == (2, 3 * size, 3)
    steps.finish(a, JobStatus.FAILED, failed())  # finish: its image deleted
    assert accounted(client) == (2, 2 * size, 2)
    steps.finish(a, JobStatus.FAILED, failed())  # a late duplicate: nothing subtracted twice
    assert accounted(client) == (2, 2 * size, 2)
    steps.start(b, "worker-a")
    client.delete(protocol.worker_key("worker-a"))  # its worker died: reaped back to queued
    assert steps.reap(time.time()) == ([b], [])
    assert accounted(client) == (2, 2 * size, 2)
    steps.announce("worker-b", [ModelInfo(name=MODEL, labels=["beagle"])], ttl_s=60)
    steps.start(b, "worker-b")  # max_attempts=1: the poison path
    assert stored_status(client, b) == JobStatus.FAILED
    assert accounted(client) == (1, size, 1)
    steps.finish(c, JobStatus.FAILED, failed())  # a finish with no start
    assert accounted(client) == (0, 0, 0)


def test_a_job_whose_record_expired_holds_no_bytes_once_a_worker_meets_it(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    started, waiting = (job_id(submit(client), client) for _ in range(2))
    steps.start(started, "worker-a")
    client.delete(protocol.job_key(started), protocol.job_key(waiting))  # records expired
    steps.finish(started, JobStatus.FAILED, failed())
    assert steps.start(waiting, "worker-a").outcome == "missing"
    assert client.get(protocol.IMAGE_BYTES) == b"0" and client.hlen(protocol.IMAGE_SIZES) == 0


def stored_status(client: redis.Redis, job: str) -> JobStatus:
    raw = client.get(protocol.job_key(job))
    assert raw is not None
    return Job.model_validate_json(raw).status


def test_a_job_whose_image_expired_while_waiting_is_no_longer_counted(
    client: redis.Redis, steps: WorkerProtocol
) -> None:
    submit(client, image_ttl_s=1)
    time.sleep(1.1)
    submit(client)  # each submission prunes first
    assert accounted(client) == (1, len(IMAGE), 1)


def test_beyond_a_bound_nothing_is_stored(client: redis.Redis, steps: WorkerProtocol) -> None:
    for _ in range(2):
        submit(client, max_queued=2)
    keys_before = client.dbsize()
    full = submit(client, max_queued=2)
    assert full.outcome == "full" and full.state is not None and full.state.waiting == 2
    over_bytes = submit(client, max_queued_bytes=3 * len(IMAGE) - 1)
    assert over_bytes.outcome == "full_bytes"
    assert over_bytes.state is not None and over_bytes.state.image_bytes == 2 * len(IMAGE)
    assert client.dbsize() == keys_before
    assert submit(client, max_queued_bytes=3 * len(IMAGE)).outcome == "queued"


def submissions(redis_url: str, count: int, key: str | None = None, **settings: int) -> list[str]:
    """`count` concurrent submissions of DOG through one JobClient: each one's outcome."""

    async def run() -> list[str]:
        jobs = JobClient.connect(QueueSettings(redis_url=redis_url, **settings))
        try:
            replies = await asyncio.gather(
                *(jobs.submit(DOG, MODEL, 1, "api", idempotency_key=key) for _ in range(count)),
                return_exceptions=True,
            )
        finally:
            await jobs.close()
        return [
            type(r).__name__ if isinstance(r, Exception) else ("old" if r.existing else r.job.id)
            for r in replies
        ]

    return asyncio.run(run())


def test_a_concurrent_burst_never_overshoots_the_bound(
    client: redis.Redis, steps: WorkerProtocol, redis_server: EmbeddedRedis
) -> None:
    outcomes = submissions(redis_server.url, 40, max_queued=5)
    assert sum(o == "QueueFull" for o in outcomes) == 35
    assert client.zcard(protocol.QUEUED) == 5
    messages = b"".join(client.lrange(protocol.QUEUE_NAME, 0, -1))  # submitted together: fewer
    assert all(job_id in messages for job_id in client.zrange(protocol.QUEUED, 0, -1))
    assert len(client.keys(protocol.job_key("*"))) == 5
    assert accounted(client) == (5, 5 * len(DOG), 5)


def test_one_idempotency_key_makes_one_job_even_at_once(
    client: redis.Redis, steps: WorkerProtocol, redis_server: EmbeddedRedis
) -> None:
    outcomes = submissions(redis_server.url, 10, key="order-17")
    assert outcomes.count("old") == 9 and len(client.keys(protocol.job_key("*"))) == 1
    assert submissions(redis_server.url, 1, key="order-17") == ["old"]
    assert submissions(redis_server.url, 1, key="order-18") != ["old"]

    async def other_image() -> None:
        jobs = JobClient.connect(QueueSettings(redis_url=redis_server.url))
        try:
            with pytest.raises(IdempotencyKeyReused):
                await jobs.submit(DOG[:-1] + b"\0", MODEL, 1, "api", idempotency_key="order-17")
            with pytest.raises(IdempotencyKeyReused):
                await jobs.submit(DOG, MODEL, 2, "api", idempotency_key="order-17")
            again = await jobs.submit(DOG, MODEL, 1, "api", "someone-else", "order-17")
            assert not again.existing  # a key is scoped to its owner
        finally:
            await jobs.close()

    asyncio.run(other_image())


def test_the_throughput_is_what_the_finish_step_counted(
    client: redis.Redis, steps: WorkerProtocol, redis_server: EmbeddedRedis
) -> None:
    ids = [job_id(submit(client), client) for _ in range(6)]
    for job in ids[:4]:
        steps.start(job, "worker-a")
    steps.finish_many([protocol.Ending(j, JobStatus.FAILED, failed()) for j in ids[:4]])

    async def read() -> QueueState:
        async_client = redis.asyncio.Redis.from_url(redis_server.url)
        try:
            return await protocol.ClientProtocol(async_client).queue_state(MODEL, ids[5])
        finally:
            await async_client.aclose()

    state = asyncio.run(read())
    assert (state.waiting, state.position) == (2, 1) and state.throughput is not None
    assert state.throughput.rate == pytest.approx(4 / protocol.THROUGHPUT_TAU_S)
    assert 0 <= state.now - state.throughput.since < 2
    rate = admission.throughput(state)
    assert rate is not None and 3.5 <= rate <= 4.1  # 4 jobs within the last second
    assert admission.eta_s(state, 1) == pytest.approx(2 / rate, abs=1e-3)


def state(waiting: int = 0, rate: float = 0, since_s: float = 600, at_s: float = 0) -> QueueState:
    """`rate` jobs/s held as of `at_s` seconds ago, counted since `since_s` seconds ago."""
    now = 1_000_000.0
    held = Throughput(rate, now - at_s, now - since_s) if rate else None
    return QueueState(waiting, held, now, image_bytes=waiting * 100)


def held_rate(rate: float, since_s: float) -> float:
    """What the finish step holds after `since_s` seconds of a steady `rate`."""
    return rate * (1 - math.exp(-since_s / protocol.THROUGHPUT_TAU_S))


def test_estimates_from_the_throughput() -> None:
    assert admission.throughput(state()) is None and admission.eta_s(state(), 3) is None
    busy = state(waiting=40, rate=10)  # 10 jobs/s for long
    assert admission.throughput(busy) == pytest.approx(10)
    assert admission.eta_s(busy, 0) == pytest.approx(0.1)
    assert admission.eta_s(busy, 39) == pytest.approx(4.0)
    for since_s in (2, 10, 45):  # a steady rate reads right from the first seconds
        young = state(rate=held_rate(10, since_s), since_s=since_s)
        assert admission.throughput(young) == pytest.approx(10)
    quiet = state(rate=10, at_s=30)  # nothing ended for 30 s: decayed by e
    assert admission.throughput(quiet) == pytest.approx(10 / math.e, rel=1e-3)
    assert admission.drain_s(state(), 100) == admission.DEFAULT_RETRY_AFTER_S
    assert admission.drain_s(busy, 1) == 1.0  # never below a second


def test_a_deadline_shorter_than_the_expected_wait_is_refused() -> None:
    busy = state(waiting=40, rate=10)  # 41st job: starts in about 4 s
    admission.check_deadline(None, busy)
    admission.check_deadline(5.0, busy)
    admission.check_deadline(0.1, state(waiting=40))  # unknown wait: admitted
    admission.check_deadline(0.1, state(waiting=0, rate=10))  # next: starts at once
    with pytest.raises(DeadlineUnreachable) as refused:
        admission.check_deadline(1.0, busy)
    assert refused.value.retry_after_s == pytest.approx(3.0)


def test_a_full_queue_says_when_to_come_back() -> None:
    settings = QueueSettings(max_queued=30, max_queued_bytes=4000)
    busy = state(waiting=40, rate=10)
    error = admission.queue_full(protocol.Admitted("full", busy), 100, settings)
    assert isinstance(error, QueueFull) and error.retry_after_s == pytest.approx(1.1)
    error = admission.queue_full(protocol.Admitted("full_bytes", busy), 100, settings)
    assert error.retry_after_s == 1.0  # 100 bytes over: 1 of the 40 jobs must end first
    unknown = admission.queue_full(protocol.Admitted("full", state(waiting=40)), 100, settings)
    assert unknown.retry_after_s == admission.DEFAULT_RETRY_AFTER_S


def test_a_deadline_is_checked_before_anything_is_stored(
    client: redis.Redis, steps: WorkerProtocol, redis_server: EmbeddedRedis
) -> None:
    for _ in range(20):
        submit(client)
    fake_throughput(client, MODEL, 10)
    before = client.dbsize()

    async def run() -> None:
        jobs = JobClient.connect(QueueSettings(redis_url=redis_server.url))
        try:
            with pytest.raises(DeadlineUnreachable):
                await jobs.submit(DOG, MODEL, 1, "api", deadline_s=1.0)  # eta about 2.1 s
            assert client.dbsize() == before
            admitted = await jobs.submit(DOG, MODEL, 1, "api", deadline_s=30.0)
            assert admitted.job.position == 20 and admitted.job.eta_s is not None
        finally:
            await jobs.close()

    asyncio.run(run())
