"""POST /predict waits a bounded time; past it, the answer is 202 with the job to follow."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from stack.system import LocalSystem
from tests.conftest import second_api


@pytest.fixture
def impatient_api(system: LocalSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second API on the shared kennel that waits only half a second for an answer."""
    logs = tmp_path_factory.mktemp("logs")
    with second_api(system, "impatient-api", logs, KENNEL_API_PREDICT_TIMEOUT_S="0.5") as url:
        yield url


def test_predict_past_its_wait_answers_202_with_the_job(
    system: LocalSystem, impatient_api: str, dog_jpeg: bytes
) -> None:
    worker = system.workers[0]
    with httpx.Client(base_url=impatient_api, timeout=30) as client:
        os.kill(worker.pid, signal.SIGSTOP)  # the job cannot finish within the wait
        try:
            response = client.post("/predict", files={"image": dog_jpeg})
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        assert response.status_code == 202, response.text
        job = response.json()
        assert job["status"] in ("queued", "running")
        assert response.headers["location"] == f"/jobs/{job['id']}"
        deadline = time.monotonic() + 30
        while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
            time.sleep(0.05)
            job = client.get(response.headers["location"]).json()
    assert job["status"] == "succeeded"
    assert job["result"]["predictions"][0]["label"] == "golden retriever"
