"""A job that kills every worker running it ends `poison` after the cap; its neighbours succeed."""

from __future__ import annotations

import asyncio
import io
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from stack.processes import Service
from tests.conftest import start_system
from tests.system.crashing_worker import MARKER

NEIGHBOURS = 8
MAX_ATTEMPTS = 2  # the default is 3; each attempt costs a worker restart, so fewer here


async def ended(client: httpx.AsyncClient, job_id: str, timeout_s: float) -> dict[str, Any]:
    """Long-poll GET /jobs/{id}?wait= until the job ends (retrying a dropped connection)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        try:
            job: dict[str, Any] = (await client.get(f"/jobs/{job_id}?wait=20")).json()
        except httpx.TransportError:
            continue
        if job["status"] in ("succeeded", "failed"):
            return job
    raise AssertionError(f"job {job_id} did not end in {timeout_s}s")


def worker_killing_png() -> bytes:
    """A valid PNG that carries the crashing worker's marker in a text chunk."""
    info = PngInfo()
    info.add_text("comment", MARKER.decode())
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 120, 40)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def test_a_job_that_kills_its_worker_every_time_ends_poison(
    tmp_path: Path, dog_jpeg: bytes
) -> None:
    # Far above the test's own timeouts: every job must come back through the reaper (its
    # worker's heartbeat gone), none through kombu's redelivery timeout, the neighbours held
    # behind the poison job at the worker's gate included.
    system = start_system(
        tmp_path, KENNEL_MAX_ATTEMPTS=str(MAX_ATTEMPTS), KENNEL_REDELIVERY_TIMEOUT_S="600"
    )
    try:
        system.workers[0].stop()
        crashing = Service.python(
            "worker-crashing", "tests.system.crashing_worker", system.log_dir, system.service_env
        ).start()
        system.workers.append(crashing)  # restarted by LocalSystem whenever it dies
        system.wait_for_workers(1, crashing)
        poison_png = worker_killing_png()

        async def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            async with httpx.AsyncClient(base_url=system.api_url, timeout=60) as client:
                before = [client.post("/jobs", files={"image": dog_jpeg}) for _ in range(4)]
                poison = client.post("/jobs", files={"image": poison_png})
                after = [client.post("/jobs", files={"image": dog_jpeg}) for _ in range(4)]
                replies = await asyncio.gather(*before, poison, *after)
                assert all(r.status_code == 202 for r in replies)
                ids = [r.json()["id"] for r in replies]
                jobs = await asyncio.gather(*(ended(client, i, 200) for i in ids))
                return jobs[4], [*jobs[:4], *jobs[5:]]

        poisoned, neighbours = asyncio.run(run())
        crashes = crashing.log_path.read_text(errors="replace")
    finally:
        system.stop()
    assert poisoned["status"] == "failed", poisoned
    assert poisoned["error"]["code"] == "poison"
    assert poisoned["attempts"] == MAX_ATTEMPTS
    assert Counter(job["status"] for job in neighbours) == {"succeeded": NEIGHBOURS}
    assert all(job["result"]["predictions"][0]["label"] == "golden retriever" for job in neighbours)
    assert "ended poison" in crashes
