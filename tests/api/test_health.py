"""/readyz: ready when a worker serves, and it says whether Redis keeps jobs across a restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stack.redis import EmbeddedRedis
from tests.api.conftest import MODEL, announce, caller


@pytest.fixture(scope="module")
def append_only_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("api-redis-aof")
    server = EmbeddedRedis(path / "data", path / "logs", persist=True).start()
    yield server.url
    server.stop()


def test_ready_on_a_redis_without_append_only_file_says_it_is_not_durable(
    announced: str,
) -> None:
    response = caller(announced)("GET", "/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready" and body["workers"] == ["test-worker"]
    assert body["redis"]["durable"] is False and body["redis"]["appendonly"] == "no"
    assert "restart loses" in body["redis"]["detail"]


def test_ready_on_an_append_only_redis_says_it_is_durable(append_only_redis: str) -> None:
    announce(append_only_redis, [MODEL])
    body = caller(append_only_redis)("GET", "/readyz").json()
    assert body["status"] == "ready" and body["redis"]["durable"] is True


def test_not_ready_without_a_worker_or_without_redis(redis_url: str) -> None:
    no_worker = caller(redis_url)("GET", "/readyz")
    assert no_worker.status_code == 503 and no_worker.json()["status"] == "not ready"
    no_redis = caller("redis://127.0.0.1:1/0")("GET", "/readyz")
    assert no_redis.status_code == 503 and no_redis.json()["status"] == "not ready"
