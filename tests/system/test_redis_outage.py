"""Redis goes away: submits answer 503 and nothing is reported accepted; then it all recovers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from stack.readiness import workers_announced
from stack.system import LocalSystem
from tests.conftest import start_system


@pytest.fixture(scope="module")
def outage_system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    running = start_system(tmp_path_factory.mktemp("outage"))
    yield running
    running.stop()


def _wait_for_worker(system: LocalSystem, timeout_s: float = 60) -> None:
    """Asked of Redis directly, so the API's first request after the outage is the real test."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if workers_announced(system.redis_url):
            return
        time.sleep(0.2)
    raise AssertionError("no worker announced itself after Redis came back")


def test_redis_down_gives_503_and_recovers_without_restarting_the_api(
    outage_system: LocalSystem, dog_jpeg: bytes
) -> None:
    assert outage_system.embedded is not None and outage_system.api is not None
    api_pid = outage_system.api.pid
    with httpx.Client(base_url=outage_system.api_url, timeout=60) as client:
        assert client.post("/predict", files={"image": dog_jpeg}).status_code == 200

        outage_system.embedded.stop()
        started = time.monotonic()
        submitted = client.post("/jobs", files={"image": dog_jpeg})
        assert submitted.status_code == 503, submitted.text
        assert submitted.json()["error"]["code"] == "queue_unavailable"
        assert submitted.headers["retry-after"]
        assert time.monotonic() - started < 15
        assert client.post("/predict", files={"image": dog_jpeg}).status_code == 503
        assert client.get("/jobs/anything").status_code == 503
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503
        assert client.get("/healthz").status_code == 200

        outage_system.embedded.start()
        _wait_for_worker(outage_system)
        # Every pooled connection of the API is stale now; the very first requests succeed.
        for _ in range(3):
            response = client.post("/predict", files={"image": dog_jpeg})
            assert response.status_code == 200, response.text
            assert response.json()["predictions"][0]["label"] == "golden retriever"
        assert client.get("/readyz").status_code == 200
    assert outage_system.api.alive() and outage_system.api.pid == api_pid
    assert all(worker.alive() for worker in outage_system.workers)


def test_a_worker_that_crashes_is_restarted_and_serves_again(
    outage_system: LocalSystem, dog_jpeg: bytes
) -> None:
    """Celery can stop a worker when Redis drops mid-acknowledgement (a kombu race); so can any
    crash. The supervisor starts it again, as compose's restart policy does."""
    worker = outage_system.workers[0]
    crashed_pid = worker.pid
    worker.kill()
    deadline = time.monotonic() + 60
    while not (worker.alive() and worker.pid != crashed_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert worker.alive() and worker.pid != crashed_pid
    assert not outage_system.dead()
    _wait_for_worker(outage_system)
    with httpx.Client(base_url=outage_system.api_url, timeout=60) as client:
        response = client.post("/predict", files={"image": dog_jpeg})
    assert response.status_code == 200, response.text


def test_after_a_redis_restart_jobs_are_accepted_while_workers_announce_again(
    outage_system: LocalSystem, dog_jpeg: bytes
) -> None:
    """Redis comes back empty (no append-only file here): the worker announcements are gone
    until the workers announce again, and the API must not answer 503 no_models meanwhile."""
    assert outage_system.embedded is not None
    with httpx.Client(base_url=outage_system.api_url, timeout=60) as client:
        assert client.post("/predict", files={"image": dog_jpeg}).status_code == 200
        outage_system.embedded.stop()
        outage_system.embedded.start()
        submitted = client.post("/jobs", files={"image": dog_jpeg})
        assert submitted.status_code == 202, submitted.text
        job = client.get(f"/jobs/{submitted.json()['id']}?wait=30").json()
    assert job["status"] == "succeeded", job
    _wait_for_worker(outage_system, 30)  # it announces again by itself
