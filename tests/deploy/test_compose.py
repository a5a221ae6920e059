"""docker-compose.yml runs for real: images built on a debootstrapped Debian, Redis with its
append-only file, the API, two workers and Prometheus in containers on a private Docker engine.

A photo is classified through the containers; a worker container and then Redis are restarted
under load, and every job that was accepted (202) ends, succeeded, with the right answer.
Timings are printed (run with -s to see them), never asserted.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from jobs.protocol import QUEUES
from tests.conftest import finished_job
from tests.deploy.compose import ComposeStack
from tests.deploy.engine import PrivateDocker, ensure_base_image, install_missing_packages

pytestmark = [pytest.mark.system, pytest.mark.timeout(900)]

KENNEL_SERVICES = ("api", "worker", "worker-2")
GOLDEN = "golden retriever"


@pytest.fixture(scope="module")
def stack() -> Iterator[ComposeStack]:
    started = time.monotonic()
    install_missing_packages()
    docker = PrivateDocker().start()
    try:
        base_image = ensure_base_image(docker)
        print(f"\n[deploy] engine and base image ready in {time.monotonic() - started:.1f}s")
        running = ComposeStack(docker, base_image, project=f"kennel-test-{os.getpid()}")
        try:
            running.up()
            print(f"[deploy] images built, stack healthy in {time.monotonic() - started:.1f}s")
            yield running
        except Exception:
            print(running.logs())
            raise
        finally:
            running.down()
            assert running.leftovers() == []
    finally:
        docker.stop()
    assert docker.removed(), f"{docker.exec_root} or a mount under it is left"
    print(f"[deploy] everything removed, {time.monotonic() - started:.1f}s in all")


def test_kennel_images_run_as_a_user_and_report_healthy(stack: ComposeStack) -> None:
    for service in (*KENNEL_SERVICES, "redis"):
        found = stack.inspect(service)
        assert found["Config"]["User"] not in ("", "root", "0"), service
        assert found["Config"]["Healthcheck"]["Test"], service
        assert found["State"]["Health"]["Status"] == "healthy", service
        assert found["HostConfig"]["ReadonlyRootfs"] is (service != "redis"), service
    uid = stack.docker.run("exec", stack.container("worker"), "id", "-u").stdout.strip()
    assert uid == b"10001"


def test_prometheus_scrapes_the_api_and_both_workers(stack: ComposeStack) -> None:
    deadline = time.monotonic() + 60
    while True:
        answer = httpx.get(f"{stack.prometheus_url}/api/v1/targets", timeout=5).json()
        health = {t["scrapeUrl"]: t["health"] for t in answer["data"]["activeTargets"]}
        if len(health) == 3 and set(health.values()) == {"up"}:
            break
        assert time.monotonic() < deadline, f"targets not all up: {health}"
        time.sleep(1)
    assert f"http://{stack.api_target}/metrics" in health


def test_a_photo_is_classified_through_the_containers(stack: ComposeStack, dog_jpeg: bytes) -> None:
    response = httpx.post(f"{stack.api_url}/predict", files={"image": dog_jpeg}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["label"] == GOLDEN
    metrics = httpx.get(f"{stack.api_url}/metrics", timeout=10).text
    for name in ("kennel_queue_depth", "kennel_oldest_queued_age_seconds"):
        assert f'{name}{{queue="kennel"}}' in metrics
    assert 'kennel_backlog_per_worker{queue="kennel"}' in metrics


def test_bad_input_gets_a_json_error_through_the_containers(stack: ComposeStack) -> None:
    response = httpx.post(
        f"{stack.api_url}/jobs", files={"image": b"not an image at all"}, timeout=30
    )
    assert 400 <= response.status_code < 500
    assert set(response.json()["error"]) >= {"code", "message"}


class Submitter:
    """POSTs the dog photo to /jobs, keeping the ids answered 202 and a count of every answer."""

    def __init__(self, client: httpx.AsyncClient, image: bytes) -> None:
        self.client, self.image = client, image
        self.accepted: list[str] = []
        self.answers: Counter[int] = Counter()

    async def submit(self, n: int) -> None:
        replies = await asyncio.gather(
            *(self.client.post("/jobs", files={"image": self.image}) for _ in range(n)),
            return_exceptions=True,
        )
        for reply in replies:
            status = reply.status_code if isinstance(reply, httpx.Response) else 0
            self.answers[status] += 1
            if isinstance(reply, httpx.Response) and status == 202:
                self.accepted.append(reply.json()["id"])

    async def finished(self) -> list[dict[str, Any]]:
        return list(
            await asyncio.gather(*(finished_job(self.client, i, 240) for i in self.accepted))
        )


def test_a_worker_restarted_under_load_loses_no_job(stack: ComposeStack, dog_jpeg: bytes) -> None:
    async def run() -> tuple[Submitter, list[dict[str, Any]], float]:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            jobs = Submitter(client, dog_jpeg)
            await jobs.submit(60)
            took = await restart(stack, "worker")  # SIGTERM while busy, then a new container
            await jobs.submit(20)
            return jobs, await jobs.finished(), took

    jobs, ended, took = asyncio.run(run())
    print(f"\n[deploy] worker restart took {took}s; answers {dict(jobs.answers)}")
    assert jobs.answers == {202: 80}
    assert Counter(job["status"] for job in ended) == {"succeeded": 80}
    assert all(job["result"]["predictions"][0]["label"] == GOLDEN for job in ended)


def test_queued_jobs_survive_a_redis_restart(stack: ComposeStack, dog_jpeg: bytes) -> None:
    """Redis keeps what it accepted in its append-only file: with the workers stopped, the
    queued jobs are only in Redis while it restarts. Submissions during the restart are either
    accepted (and then end) or refused with 503, never accepted and lost."""

    async def run() -> tuple[Submitter, list[dict[str, Any]], float, list[bytes]]:
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=30) as client:
            jobs = Submitter(client, dog_jpeg)
            await asyncio.to_thread(stack.compose, "stop", "worker", "worker-2")
            await jobs.submit(30)
            restarting = asyncio.create_task(restart(stack, "redis"))
            while not restarting.done():  # keep submitting while Redis goes down and back
                await jobs.submit(2)
                await asyncio.sleep(0.1)
            took = await restarting
            await jobs.submit(10)
            with redis.Redis.from_url(stack.redis_url) as broker:
                messages = [m for q in QUEUES for m in broker.lrange(q, 0, -1)]
            await asyncio.to_thread(stack.compose, "start", "worker", "worker-2")
            return jobs, await jobs.finished(), took, messages

    jobs, ended, took, messages = asyncio.run(run())
    print(f"\n[deploy] redis restart took {took}s; answers {dict(jobs.answers)}; ", end="")
    print(f"{len(messages)} messages queued for {len(jobs.accepted)} accepted jobs")
    # Every accepted job's message survived the restart (a message names the jobs one API
    # process submitted together, POST /jobs's in the batch queue). A duplicate or redelivered
    # message, or one naming a job a 503 refused, is harmless: a worker skips any job that has
    # ended or is gone.
    assert all(any(i.encode() in m for m in messages) for i in jobs.accepted)
    assert jobs.answers[202] >= 40
    assert set(jobs.answers) <= {202, 503}, jobs.answers
    assert Counter(job["status"] for job in ended) == {"succeeded": len(ended)}
    assert all(job["result"]["predictions"][0]["label"] == GOLDEN for job in ended)


async def restart(stack: ComposeStack, service: str) -> float:
    started = time.monotonic()
    await asyncio.to_thread(stack.compose, "restart", "--timeout", "10", service)
    return round(time.monotonic() - started, 1)
