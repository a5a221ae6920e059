"""The client host's side of the link-cut test; run inside the client's namespace.

    python -m tests.hosts.drive SCENARIO.json  ->  a JSON report on stdout

It waits for the API, keeps jobs flowing, cuts the victim worker's link as soon as that worker is
running jobs, waits for every job to end, brings the link back and checks the victim serves again.
Every time in the report is in seconds on this machine's clock (all hosts share it).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from jobs import protocol

TERMINAL = {"succeeded", "failed"}


async def wait_ready(client: httpx.AsyncClient, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.5)
    raise SystemExit("the API was not ready")


async def submit(client: httpx.AsyncClient, image: bytes, n: int) -> list[str]:
    replies = await asyncio.gather(
        *(client.post("/jobs", files={"image": ("dog.jpg", image)}) for _ in range(n))
    )
    assert all(r.status_code == 202 for r in replies), [r.text for r in replies]
    return [r.json()["id"] for r in replies]


async def states(client: httpx.AsyncClient, ids: list[str]) -> dict[str, dict[str, Any]]:
    replies = await asyncio.gather(*(client.get(f"/jobs/{i}") for i in ids))
    return {i: r.json() for i, r in zip(ids, replies, strict=True)}


async def until_ended(
    client: httpx.AsyncClient, ids: list[str], timeout_s: float, seen: set[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The jobs once all ended (or at the timeout); `seen` collects the workers seen running
    them (an ended job no longer names its worker)."""
    deadline = time.monotonic() + timeout_s
    while True:
        jobs = await states(client, ids)
        if seen is not None:
            seen.update(j["worker"] for j in jobs.values() if j["status"] == "running")
        if all(j["status"] in TERMINAL for j in jobs.values()) or time.monotonic() > deadline:
            return jobs
        await asyncio.sleep(0.05)


def worker_names(redis_url: str) -> set[str]:
    with redis.Redis.from_url(redis_url, socket_timeout=2) as client:
        found = client.scan_iter(protocol.WORKER_PATTERN)
        return {key.decode().removeprefix(protocol.worker_key("")) for key in found}


async def drive(scenario: dict[str, Any]) -> dict[str, Any]:
    image = Path(scenario["image"]).read_bytes()
    redis_url = scenario["redis_url"]
    async with httpx.AsyncClient(base_url=scenario["api_url"], timeout=30) as client:
        await wait_ready(client, 120)
        workers_before = worker_names(redis_url)
        ids = await submit(client, image, scenario["jobs"])
        cut_at, at_cut = None, {}
        deadline = time.monotonic() + 60
        while cut_at is None and time.monotonic() < deadline:
            jobs = await states(client, ids)
            victims = [
                i for i, j in jobs.items()
                if j["status"] == "running" and j.get("worker") == scenario["victim_worker"]
            ]  # fmt: skip
            if victims:
                subprocess.run(scenario["cut"], check=True)
                cut_at, at_cut = time.time(), {"victim_running": victims}
            await asyncio.sleep(0.02)
        if cut_at is None:
            raise SystemExit("the victim never ran a job")
        # More work while the victim is cut off: none of it may be swallowed by the victim.
        ids += await submit(client, image, scenario["jobs_during_cut"])
        ended = await until_ended(client, ids, scenario["timeout_s"])
        done_at = time.time()
        subprocess.run(scenario["restore"], check=True)
        restored_at = time.time()
        back = scenario["victim_worker"] in worker_names(redis_url)
        while not back and time.time() - restored_at < 60:
            await asyncio.sleep(0.5)
            back = scenario["victim_worker"] in worker_names(redis_url)
        # Waves of work until the victim is seen running some (another worker may take a wave).
        workers_after: set[str] = set()
        after: dict[str, dict[str, Any]] = {}
        waves, waves_until = 0, time.monotonic() + 60
        while scenario["victim_worker"] not in workers_after and time.monotonic() < waves_until:
            waves += 1
            after_ids = await submit(client, image, scenario["jobs_after"])
            after |= await until_ended(client, after_ids, scenario["timeout_s"], workers_after)
    return {
        "workers_before": sorted(workers_before),
        "cut_at": cut_at,
        "done_at": done_at,
        "victim_back_after_s": time.time() - restored_at if back else None,
        "victim_running_at_cut": at_cut["victim_running"],
        "jobs": ended,
        "after": after,
        "workers_after": sorted(workers_after),
        "waves_after": waves,
    }


def main() -> None:
    scenario = json.loads(Path(sys.argv[1]).read_text())
    json.dump(asyncio.run(drive(scenario)), sys.stdout)


if __name__ == "__main__":
    main()
