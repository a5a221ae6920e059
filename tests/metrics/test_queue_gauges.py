"""The autoscaling signals: queue depth, the oldest queued job's age, the backlog per worker.

The arithmetic is pure (`queue_gauges`); the reads run against a real redis-server holding the
keys the services write (the Celery list, the queued set scored by submission time, heartbeats).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from api.metrics import QueueDepth, QueueReading, queue_gauges, read_queue
from jobs import protocol
from jobs.contract import QUEUE_NAME
from jobs.settings import QueueSettings
from stack.redis import EmbeddedRedis

Gauges = dict[str, float]


def as_values(families: list[object]) -> Gauges:
    values: Gauges = {}
    for family in families:
        for sample in family.samples:  # type: ignore[attr-defined]
            assert sample.labels == {"queue": QUEUE_NAME}
            values[sample.name] = sample.value
    return values


def test_an_idle_queue_reads_zero_everywhere() -> None:
    reading = QueueReading(depth=0, waiting=0, oldest_submitted_at=None, workers=3)
    assert as_values(list(queue_gauges(reading, now=1000.0))) == {
        "kennel_queue_depth": 0.0,
        "kennel_oldest_queued_age_seconds": 0.0,
        "kennel_backlog_per_worker": 0.0,
        "kennel_queued_image_bytes": 0.0,
    }


def test_the_backlog_is_shared_by_the_live_workers() -> None:
    reading = QueueReading(depth=10, waiting=12, oldest_submitted_at=990.0, workers=4)
    values = as_values(list(queue_gauges(reading, now=1000.0)))
    assert values["kennel_backlog_per_worker"] == 3.0
    assert values["kennel_oldest_queued_age_seconds"] == 10.0


def test_with_no_worker_the_whole_backlog_asks_for_one() -> None:
    reading = QueueReading(depth=5, waiting=5, oldest_submitted_at=999.0, workers=0)
    assert as_values(list(queue_gauges(reading, now=1000.0)))["kennel_backlog_per_worker"] == 5.0


def test_a_clock_behind_the_submitter_never_reads_a_negative_age() -> None:
    reading = QueueReading(depth=1, waiting=1, oldest_submitted_at=1001.5, workers=1)
    values = as_values(list(queue_gauges(reading, now=1000.0)))
    assert values["kennel_oldest_queued_age_seconds"] == 0.0


@pytest.fixture
def redis_client(tmp_path: Path) -> Iterator[redis.Redis]:
    server = EmbeddedRedis(tmp_path / "data", tmp_path, persist=False).start()
    try:
        with redis.Redis.from_url(server.url) as client:
            yield client
    finally:
        server.stop()


def test_the_reads_find_what_the_services_wrote(redis_client: redis.Redis) -> None:
    redis_client.rpush(QUEUE_NAME, "m1", "m2", "m3")
    redis_client.zadd(protocol.QUEUED, {"job-b": 1500.0, "job-a": 1200.0, "job-c": 1800.0})
    for name in ("host-1:7", "host-2:9"):
        redis_client.set(protocol.worker_key(name), "imagewoof", px=60_000)
    redis_client.set(protocol.job_key("job-a"), "{}")  # other kennel keys are not workers
    redis_client.set(protocol.IMAGE_BYTES, 4096)
    assert read_queue(redis_client) == QueueReading(
        depth=3, waiting=3, oldest_submitted_at=1200.0, workers=2, image_bytes=4096
    )


def test_the_collector_exports_all_three_from_redis(redis_client: redis.Redis) -> None:
    redis_client.zadd(protocol.QUEUED, {"job-a": 1.0, "job-b": 2.0})
    port = redis_client.connection_pool.connection_kwargs["port"]
    collector = QueueDepth(QueueSettings(redis_url=f"redis://127.0.0.1:{port}/0"))
    try:
        values = as_values(list(collector.collect()))
    finally:
        collector.close()
    assert values["kennel_queue_depth"] == 0.0
    assert values["kennel_backlog_per_worker"] == 2.0  # no worker: the whole backlog
    assert values["kennel_oldest_queued_age_seconds"] > 1_000_000_000  # submitted at 1970 + 1 s
