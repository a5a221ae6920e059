"""Backpressure and idempotency on the running system: real uvicorn, worker and redis-server."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stack.system import LocalSystem
from tests.conftest import finished_job, second_api

MAX_QUEUED = 5
BURST = 40


@pytest.fixture
def bounded_api(system: LocalSystem, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second API on the shared kennel that lets only MAX_QUEUED jobs wait per model."""
    logs = tmp_path_factory.mktemp("logs")
    with second_api(system, "bounded-api", logs, KENNEL_MAX_QUEUED=str(MAX_QUEUED)) as url:
        yield url


def test_a_burst_beyond_the_bound_is_refused_and_every_accepted_job_ends(
    system: LocalSystem, bounded_api: str, dog_jpeg: bytes
) -> None:
    worker = system.workers[0]
    limits = httpx.Limits(max_connections=BURST + 5)

    async def run() -> tuple[list[httpx.Response], httpx.Response, list[dict[str, Any]]]:
        async with httpx.AsyncClient(base_url=bounded_api, timeout=60, limits=limits) as http:
            os.kill(worker.pid, signal.SIGSTOP)  # nothing leaves the queue during the burst
            try:
                burst = await asyncio.gather(
                    *(http.post("/jobs", files={"image": dog_jpeg}) for _ in range(BURST))
                )
                predict = await http.post("/predict", files={"image": dog_jpeg})
                accepted = [r.json()["id"] for r in burst if r.status_code == 202]
                queued = [(await http.get(f"/jobs/{i}")).json() for i in accepted]
            finally:
                os.kill(worker.pid, signal.SIGCONT)
            ended = await asyncio.gather(*(finished_job(http, i) for i in accepted))
            return burst, predict, [*queued, *ended]

    burst, predict, jobs = asyncio.run(run())
    statuses = sorted(r.status_code for r in burst)
    assert statuses == [202] * MAX_QUEUED + [429] * (BURST - MAX_QUEUED)
    for refused in [r for r in burst if r.status_code == 429] + [predict]:
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "queue_full"
        assert int(refused.headers["Retry-After"]) >= 1
    queued, ended = jobs[:MAX_QUEUED], jobs[MAX_QUEUED:]
    assert sorted(j["position"] for j in queued) == list(range(MAX_QUEUED))
    assert [j["status"] for j in ended] == ["succeeded"] * MAX_QUEUED


def test_two_submissions_at_once_with_one_key_make_one_job(
    system: LocalSystem, dog_jpeg: bytes
) -> None:
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=system.api_url, timeout=60) as http:
            headers = {"Idempotency-Key": f"two-at-once-{os.getpid()}"}
            return await asyncio.gather(
                *(http.post("/jobs", files={"image": dog_jpeg}, headers=headers) for _ in range(2))
            )

    first, second = asyncio.run(run())
    assert sorted([first.status_code, second.status_code]) == [200, 202]
    assert first.json()["id"] == second.json()["id"]
