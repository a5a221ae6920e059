"""How processes reach Redis: by URL, or through Sentinel; and submissions confirmed by replicas.

The settings' parsing is pure. The rest runs against real redis-servers of the test's own: a
master and its replica, and a Sentinel set (a master, a replica, three sentinels; about two
seconds to start).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import kombu
import pydantic
import pytest
import redis

from jobs import protocol
from jobs.client import JobClient
from jobs.connection import RedisTarget
from jobs.contract import QUEUE_NAME, ModelInfo
from jobs.errors import NotReplicated
from jobs.settings import QueueSettings, parse_sentinels
from stack.processes import wait_until
from stack.redis import EmbeddedRedis
from stack.sentinel import SentinelSet
from tests.conftest import photo

DOG = photo("grad_dog_cat.jfif").data
MODEL = ModelInfo(name="imagewoof", labels=["a", "b"])


def test_sentinel_addresses_are_parsed() -> None:
    assert parse_sentinels("10.0.0.1:26379, sentinel-b:26380") == (
        ("10.0.0.1", 26379),
        ("sentinel-b", 26380),
    )


@pytest.mark.parametrize("bad", ["10.0.0.1", "a:1,,b:2", "a:port", ":26379", "a:0", "a:70000"])
def test_a_malformed_sentinel_list_stops_the_settings(bad: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="is not host:port"):
        QueueSettings(redis_sentinels=bad)


def test_sentinels_need_a_master_name() -> None:
    with pytest.raises(pydantic.ValidationError, match="KENNEL_REDIS_MASTER must name"):
        QueueSettings(redis_sentinels="s1:26379", redis_master=" ")


def test_without_sentinels_everything_uses_the_url() -> None:
    settings = QueueSettings(redis_url="redis://cache:6380/2")
    target = RedisTarget.from_settings(settings)
    assert target.broker_url() == "redis://cache:6380/2" and target.broker_options() == {}
    assert settings.replicas_to_wait == 0


def test_with_sentinels_the_url_gives_the_database_and_the_credentials() -> None:
    settings = QueueSettings(
        redis_url="redis://kennel:p%40ss@ignored:1/3",
        redis_sentinels="s1:26379,s2:26380",
        redis_master="jobs",
    )
    target = RedisTarget.from_settings(settings)
    assert target.broker_url() == (
        "sentinel://kennel:p%40ss@s1:26379/3;sentinel://kennel:p%40ss@s2:26380/3"
    )
    assert target.broker_options()["master_name"] == "jobs"
    assert settings.replicas_to_wait == 1  # unset: one replica confirms every submission
    assert QueueSettings(redis_sentinels="s1:1", redis_min_replicas=0).replicas_to_wait == 0


@pytest.fixture
def master_and_replica(tmp_path: Path) -> Iterator[tuple[EmbeddedRedis, EmbeddedRedis]]:
    master = EmbeddedRedis(tmp_path / "master", tmp_path / "logs", persist=False).start()
    replica_of = ("--replicaof", "127.0.0.1", str(master.port))
    replica = EmbeddedRedis(
        tmp_path / "replica", tmp_path / "logs", persist=False, options=replica_of
    ).start()
    with redis.Redis.from_url(master.url) as client:
        wait_until(lambda: client.info("replication")["connected_slaves"] == 1, 10, "replica")
        protocol.announce(client, "a-worker", [MODEL], ttl_s=60)
    yield master, replica
    replica.stop()
    master.stop()


async def _submit(settings: QueueSettings) -> str:
    client = JobClient.connect(settings)
    try:
        return (await client.submit(DOG, MODEL.name, top_k=1, source="api")).job.id
    finally:
        await client.close()


def test_a_submission_is_answered_once_a_replica_holds_it(
    master_and_replica: tuple[EmbeddedRedis, EmbeddedRedis],
) -> None:
    master, replica = master_and_replica
    settings = QueueSettings(redis_url=master.url, redis_min_replicas=1)
    job_id = asyncio.run(_submit(settings))
    with redis.Redis.from_url(replica.url) as client:  # read at once: no waiting here
        assert client.exists(protocol.job_key(job_id), protocol.image_key(job_id)) == 2
        assert client.zscore(protocol.QUEUED, job_id) is not None
        assert job_id.encode() in client.lindex(QUEUE_NAME, 0)


def test_a_submission_no_replica_confirms_is_refused_and_withdrawn(
    master_and_replica: tuple[EmbeddedRedis, EmbeddedRedis],
) -> None:
    master, replica = master_and_replica
    replica.stop()
    settings = QueueSettings(
        redis_url=master.url, redis_min_replicas=1, redis_replica_timeout_ms=100
    )
    with pytest.raises(NotReplicated, match="0 of the 1 Redis replica"):
        asyncio.run(_submit(settings))
    with redis.Redis.from_url(master.url) as client:
        assert not client.keys(protocol.job_key("*")) and not client.keys(protocol.image_key("*"))
        assert client.zcard(protocol.QUEUED) == 0


@pytest.fixture(scope="module")
def sentinel_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    with SentinelSet(tmp_path_factory.mktemp("sentinel"), replicas=1) as running:
        yield running


def test_every_kind_of_client_finds_the_master_through_the_sentinels(
    sentinel_set: SentinelSet,
) -> None:
    settings = QueueSettings(
        redis_url="redis://unused:1/0",
        redis_sentinels=sentinel_set.addresses,
        redis_master=sentinel_set.name,
    )
    target = RedisTarget.from_settings(settings)
    with target.sync_client(socket_timeout=2) as client:
        client.set("written", "through the sentinels")
        protocol.announce(client, "a-worker", [MODEL], ttl_s=60)
    with redis.Redis.from_url(sentinel_set.master.url) as master:
        assert master.get("written") == b"through the sentinels"
    job_id = asyncio.run(_submit(settings))  # the asyncio client, and WAIT for its replica
    with kombu.Connection(target.broker_url(), transport_options=target.broker_options()) as conn:
        queue = conn.SimpleQueue(QUEUE_NAME)
        message = queue.get(timeout=5)  # what a worker takes: the job just submitted
        assert message.headers["kennel_jobs"] == [job_id]
        message.ack()
        queue.close()


def test_a_message_taken_and_never_acknowledged_comes_back_through_the_sentinels(
    sentinel_set: SentinelSet,
) -> None:
    """kombu's visibility timeout (what gives back a dead worker's messages) through Sentinel."""
    target = RedisTarget("redis://", _addresses(sentinel_set), sentinel_set.name)
    options = {**target.broker_options(), "visibility_timeout": 1}
    with kombu.Connection(target.broker_url(), transport_options=options) as conn:
        conn.SimpleQueue("restore-test").put({"job": "a"})
        taken = conn.SimpleQueue("restore-test").get(timeout=5)
        assert taken.payload == {"job": "a"}
        conn.default_channel.do_restore = False  # a consumer that dies gives nothing back
    with target.sync_client() as client:  # taken, not given back: only in the unacked hash
        assert client.llen("restore-test") == 0 and client.hlen(protocol.UNACKED) == 1
    time.sleep(1.2)
    with kombu.Connection(target.broker_url(), transport_options=options) as conn:
        conn.default_channel.qos.restore_visible()
        again = conn.SimpleQueue("restore-test").get(timeout=5)
        assert again.payload == {"job": "a"} and again.delivery_info["redelivered"]
        again.ack()


def _addresses(sentinel_set: SentinelSet) -> tuple[tuple[str, int], ...]:
    return tuple(("127.0.0.1", sentinel.port) for sentinel in sentinel_set.sentinels)


def test_through_the_sentinels_the_api_pool_stays_bounded_and_requests_wait(
    sentinel_set: SentinelSet,
) -> None:
    """More concurrent submissions than connections: they wait for one, none fails."""
    settings = QueueSettings(
        redis_sentinels=sentinel_set.addresses,
        redis_master=sentinel_set.name,
        redis_max_connections=2,
    )

    async def many() -> list[str]:
        client = JobClient.connect(settings)
        try:
            submissions = (client.submit(DOG, MODEL.name, 1, "api") for _ in range(10))
            return [s.job.id for s in await asyncio.gather(*submissions)]
        finally:
            await client.close()

    with redis.Redis.from_url(sentinel_set.master.url) as master:
        protocol.announce(master, "a-worker", [MODEL], ttl_s=60)
        ids = asyncio.run(many())
        assert all(master.exists(protocol.job_key(job_id)) for job_id in ids)
