"""Priorities against the real system: interactive work overtakes queued batch work, and batch
work still runs while interactive load goes on (KENNEL_BATCH_PROMOTE_AFTER_S)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import finished_job, start_system

# One message at a time per worker, one job per message: the order the worker takes messages
# in is the order the jobs start in.
ONE_BY_ONE = {"KENNEL_WORKER_CONCURRENCY": "1", "KENNEL_SUBMIT_MAX_JOBS": "1"}


def started(job: dict[str, Any]) -> float:
    return datetime.fromisoformat(job["started_at"]).timestamp()


async def post(client: httpx.AsyncClient, image: bytes, **form: str) -> dict[str, Any]:
    reply = await client.post("/jobs", files={"image": image}, data=form)
    assert reply.status_code == 202, reply.text
    job: dict[str, Any] = reply.json()
    return job


def test_interactive_jobs_overtake_queued_batch_jobs(tmp_path: Path, dog_jpeg: bytes) -> None:
    system = start_system(tmp_path, restart_workers=False, **ONE_BY_ONE)
    try:
        system.workers[0].stop()  # its models stay announced; the jobs wait in the queues

        async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            async with httpx.AsyncClient(base_url=system.api_url, timeout=60) as client:
                batch = [await post(client, dog_jpeg) for _ in range(4)]  # POST /jobs: batch
                interactive = [await post(client, dog_jpeg, priority="interactive")]
                interactive.append(await post(client, dog_jpeg, priority="interactive"))
                system.add_worker()
                ended = [await finished_job(client, j["id"]) for j in [*batch, *interactive]]
                return ended[:4], ended[4:]

        batch, interactive = asyncio.run(run())
    finally:
        system.stop()
    assert {j["priority"] for j in batch} == {"batch"}
    assert {j["priority"] for j in interactive} == {"interactive"}
    assert all(j["status"] == "succeeded" for j in [*batch, *interactive])
    assert max(started(j) for j in interactive) < min(started(j) for j in batch)


def test_a_batch_job_is_not_starved_by_interactive_load(tmp_path: Path, dog_jpeg: bytes) -> None:
    """Eight closed-loop /predict clients keep the interactive queue full (one job per message,
    one message at a time); a batch job still runs once it waited KENNEL_BATCH_PROMOTE_AFTER_S."""
    promote_after_s = 2.0
    system = start_system(
        tmp_path,
        restart_workers=False,
        KENNEL_BATCH_PROMOTE_AFTER_S=str(promote_after_s),
        **ONE_BY_ONE,
    )
    try:

        async def run() -> tuple[dict[str, Any], int, float]:
            async with httpx.AsyncClient(base_url=system.api_url, timeout=60) as client:
                stop = asyncio.Event()
                overtaking = 0

                async def interactive_client() -> None:
                    nonlocal overtaking
                    while not stop.is_set():
                        reply = await client.post("/predict", files={"image": dog_jpeg})
                        assert reply.status_code == 200, reply.text
                        overtaking += 1

                load = [asyncio.create_task(interactive_client()) for _ in range(8)]
                await asyncio.sleep(1.0)  # the interactive queue is full
                job = await post(client, dog_jpeg)
                before, sent = overtaking, time.time()
                ended = await finished_job(client, job["id"], 30)
                overtook, load_still_on = overtaking - before, not any(t.done() for t in load)
                stop.set()
                await asyncio.gather(*load)
                assert load_still_on
                return ended, overtook, sent

        job, overtook, sent = asyncio.run(run())
        log = system.workers[0].log_path.read_text(errors="replace")
    finally:
        system.stop()
    assert job["status"] == "succeeded" and job["priority"] == "batch"
    assert overtook > 0  # interactive jobs submitted after it ran before it
    assert started(job) - sent >= promote_after_s - 0.5  # it waited behind them ...
    assert "moved ahead" in log  # ... until it was promoted
