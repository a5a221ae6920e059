"""The API's HTTP metrics label by route template, and the queue depth never lies.

In-process (no Redis needed): JobClient and the queue depth collector connect lazily, and Redis
at port 1 never answers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.metrics import QueueDepth
from api.settings import ApiSettings
from jobs.settings import QueueSettings
from tests.metrics.scrape import Sample

NO_REDIS = "redis://127.0.0.1:1/0"


def _samples() -> dict[Sample, float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(generate_latest(REGISTRY).decode())
        for s in family.samples
    }


def _requests(method: str, route: str, status: str) -> float:
    labels = frozenset({"method": method, "route": route, "status": status}.items())
    return _samples().get(("kennel_http_requests_total", labels), 0.0)


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = ApiSettings(queue=QueueSettings(redis_url=NO_REDIS))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_requests_are_counted_by_route_template_not_path(client: TestClient) -> None:
    before = _requests("GET", "/healthz", "200"), _requests("GET", "unmatched", "404")
    assert client.get("/healthz").status_code == 200
    for path in ("/no/such/page", "/jobs/abc/def"):
        assert client.get(path).status_code == 404
    after = _requests("GET", "/healthz", "200"), _requests("GET", "unmatched", "404")
    assert (after[0] - before[0], after[1] - before[1]) == (1, 2)
    assert not any("/no/such/page" in dict(labels).get("route", "") for _, labels in _samples())


def test_an_oversized_upload_is_counted_with_its_413(client: TestClient) -> None:
    before = _requests("POST", "unmatched", "413")
    huge = b"x" * (11 * 1024 * 1024)
    response = client.post("/jobs", content=huge, headers={"content-type": "image/jpeg"})
    assert response.status_code == 413
    # The body size limit answers before routing, so there is no route to name.
    assert _requests("POST", "unmatched", "413") - before == 1


def test_the_queue_depth_is_absent_when_redis_does_not_answer() -> None:
    collector = QueueDepth(QueueSettings(redis_url=NO_REDIS))
    try:
        assert list(collector.collect()) == []
    finally:
        collector.close()
