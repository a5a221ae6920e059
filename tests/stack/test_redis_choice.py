"""Only a durable Redis holds jobs: `make up` adopts one with an append-only file, or an explicit
one with a loud warning; a Redis without one, not set explicitly, is passed over."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from stack.processes import ROOT, free_port
from stack.redis import EmbeddedRedis, choose, durability


@pytest.fixture(scope="module")
def snapshot_only_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server with `appendonly no`: a restart loses what came after a snapshot."""
    path = tmp_path_factory.mktemp("redis-no-aof")
    server = EmbeddedRedis(path / "data", path / "logs", persist=False).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def append_only_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("redis-aof")
    server = EmbeddedRedis(path / "data", path / "logs", persist=True).start()
    yield server.url
    server.stop()


def test_the_configuration_says_which_redis_is_durable(
    snapshot_only_redis: str, append_only_redis: str
) -> None:
    loose, durable = durability(snapshot_only_redis), durability(append_only_redis)
    assert loose is not None and loose.durable is False and loose.appendonly == "no"
    assert durable is not None and durable.durable is True
    assert durability(f"redis://127.0.0.1:{free_port()}/0") is None  # nothing answers


def test_a_durable_redis_is_adopted_set_or_not(append_only_redis: str) -> None:
    for explicit in (True, False):
        choice = choose(append_only_redis, explicit)
        assert choice.adopt and not choice.loud
        assert "append-only file on" in choice.reason


def test_a_redis_without_append_only_file_is_passed_over_unless_set(
    snapshot_only_redis: str,
) -> None:
    implicit = choose(snapshot_only_redis, explicit=False)
    assert not implicit.adopt and not implicit.loud
    assert "no append-only file" in implicit.reason

    explicit = choose(snapshot_only_redis, explicit=True)
    assert explicit.adopt and explicit.loud
    assert "KENNEL_REDIS_URL" in explicit.reason and "appendonly yes" in explicit.reason


def test_nothing_answering_means_the_embedded_redis() -> None:
    choice = choose(f"redis://127.0.0.1:{free_port()}/0", explicit=True)
    assert not choice.adopt and "nothing answers" in choice.reason


def test_make_up_refuses_sentinels_it_would_not_follow() -> None:
    """`make up` runs one Redis; with KENNEL_REDIS_SENTINELS set it says so and stops."""
    env = {**os.environ, "KENNEL_REDIS_SENTINELS": f"127.0.0.1:{free_port()}"}
    done = subprocess.run(
        [sys.executable, "-m", "stack"], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert done.returncode == 2
    assert b"KENNEL_REDIS_SENTINELS is set" in done.stderr
