"""python -m worker.healthcheck (the containers' health check) against a real redis-server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from jobs import protocol
from jobs.settings import QueueSettings
from stack.processes import ROOT
from stack.redis import EmbeddedRedis
from worker.healthcheck import heartbeats
from worker.settings import WorkerSettings


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path / "data", tmp_path, persist=False).start()
    try:
        yield server.url
    finally:
        server.stop()


def check(redis_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KENNEL_REDIS_URL": redis_url}
    argv = [sys.executable, "-m", "worker.healthcheck"]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_only_this_hosts_heartbeats_count(redis_url: str) -> None:
    settings = WorkerSettings(queue=QueueSettings(redis_url=redis_url))
    with redis.Redis.from_url(redis_url) as client:
        client.set(protocol.worker_key("other-host:12"), "imagewoof")
        assert heartbeats(settings, "this-host") == []
        client.set(protocol.worker_key("this-host:7"), "imagewoof")
        assert heartbeats(settings, "this-host") == [protocol.worker_key("this-host:7")]


def test_healthy_while_a_worker_here_beats_and_unhealthy_after(redis_url: str) -> None:
    unhealthy = check(redis_url)
    assert unhealthy.returncode == 1
    assert "no heartbeat" in unhealthy.stderr
    with redis.Redis.from_url(redis_url) as client:
        client.set(protocol.worker_key(f"{socket.gethostname()}:1"), "imagewoof", px=60_000)
        assert check(redis_url).returncode == 0


def test_unhealthy_when_redis_does_not_answer() -> None:
    result = check("redis://127.0.0.1:1/0")
    assert result.returncode == 1
    assert "Redis unavailable" in result.stderr
