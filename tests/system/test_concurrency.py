"""Many jobs at once: none lost, all succeed, and the worker batches them."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx

from stack.system import LocalSystem
from tests.conftest import finished_job, photo

N_JOBS = 200


def test_200_concurrent_jobs_all_succeed_in_batches(system: LocalSystem) -> None:
    images = [
        photo(name).data for name in ("grad_dog_cat.jfif", "scikit_coffee.png", "gcompris_dog.webp")
    ]

    async def run() -> list[dict[str, Any]]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=system.api_url, timeout=120, limits=limits) as client:
            submitted = await asyncio.gather(
                *(
                    client.post("/jobs", files={"image": images[i % 3]}, data={"model": "imagenet"})
                    for i in range(N_JOBS)
                )
            )
            assert all(r.status_code == 202 for r in submitted)
            ids = [r.json()["id"] for r in submitted]
            assert len(set(ids)) == N_JOBS
            return list(await asyncio.gather(*(finished_job(client, i, 180) for i in ids)))

    jobs = asyncio.run(run())
    assert Counter(job["status"] for job in jobs) == {"succeeded": N_JOBS}
    for index, job in enumerate(jobs):
        assert (
            job["result"]["predictions"][0]["label"]
            == ("golden retriever", "espresso", "German shepherd")[index % 3]
        )
    sizes = Counter(job["result"]["batch_size"] for job in jobs)
    print(f"\nbatch sizes seen by {N_JOBS} jobs (size: jobs): {dict(sorted(sizes.items()))}")
    assert max(sizes) > 1
