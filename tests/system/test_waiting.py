"""Waiting without polling: GET /jobs/{id}?wait=S and POST /jobs with `Prefer: wait=S`.

Many waiting requests share the API process's one Redis subscription: none holds a
connection while it waits, and all wake when their jobs end.
"""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import httpx
import redis

from stack.system import LocalSystem

WAITERS = 50


def api_connections(redis_url: str) -> list[dict[str, Any]]:
    with redis.Redis.from_url(redis_url) as client:
        return [c for c in client.client_list() if c.get("name") == "kennel-api"]


def test_many_waiters_share_one_subscription_and_all_wake(
    system: LocalSystem, dog_jpeg: bytes
) -> None:
    worker = system.workers[0]
    limits = httpx.Limits(max_connections=WAITERS + 10)

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[httpx.Response]]:
        async with httpx.AsyncClient(base_url=system.api_url, timeout=60, limits=limits) as http:
            os.kill(worker.pid, signal.SIGSTOP)  # nothing ends until the waiters wait
            try:
                posted = await asyncio.gather(
                    *(http.post("/jobs", files={"image": dog_jpeg}) for _ in range(WAITERS))
                )
                ids = [r.json()["id"] for r in posted]
                # As many reads at once as there will be waiters: the pool has what it needs.
                await asyncio.gather(*(http.get(f"/jobs/{i}") for i in ids))
                before = api_connections(system.redis_url)
                waiting = [asyncio.create_task(http.get(f"/jobs/{i}?wait=50")) for i in ids]
                await asyncio.sleep(3)
                during = api_connections(system.redis_url)
                assert not any(task.done() for task in waiting), "a waiter returned early"
            finally:
                os.kill(worker.pid, signal.SIGCONT)
            return before, during, await asyncio.gather(*waiting)

    before, during, replies = asyncio.run(run())
    subscribed = [c for c in during if int(c.get("sub", 0)) > 0]
    assert len(subscribed) == 1, during
    assert len(during) <= len(before) + 1, (before, during)  # at most the subscription is new
    assert not any(c["cmd"] in ("blpop", "brpop", "subscribe") for c in during if c["sub"] == "0")
    assert [r.status_code for r in replies] == [200] * WAITERS
    assert {r.json()["status"] for r in replies} == {"succeeded"}


def test_post_with_prefer_wait_answers_200_with_the_ended_job(
    http: httpx.Client, dog_jpeg: bytes
) -> None:
    reply = http.post("/jobs", files={"image": dog_jpeg}, headers={"Prefer": "wait=30"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["preference-applied"] == "wait=30"
    job = reply.json()
    assert job["status"] == "succeeded"
    assert reply.headers["location"] == f"/jobs/{job['id']}"
    assert job["result"]["predictions"][0]["label"] == "golden retriever"


def test_post_without_prefer_answers_202_at_once(http: httpx.Client, dog_jpeg: bytes) -> None:
    reply = http.post("/jobs", files={"image": dog_jpeg}, headers={"Prefer": "respond-async"})
    assert reply.status_code == 202
    assert "preference-applied" not in reply.headers
    assert reply.json()["status"] in ("queued", "running", "succeeded")
    ended = http.get(f"{reply.headers['location']}?wait=30").json()
    assert ended["status"] == "succeeded"


def test_a_wait_past_the_job_answers_the_job_as_it_stands(
    system: LocalSystem, http: httpx.Client, dog_jpeg: bytes
) -> None:
    worker = system.workers[0]
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        reply = http.post("/jobs", files={"image": dog_jpeg}, headers={"Prefer": "wait=1"})
        job_id = reply.json()["id"]
        still = http.get(f"/jobs/{job_id}?wait=1")
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    assert reply.status_code == 202 and reply.headers["preference-applied"] == "wait=1"
    assert still.status_code == 200 and still.json()["status"] in ("queued", "running")


def test_bad_waits_are_refused_and_unknown_jobs_are_404(http: httpx.Client) -> None:
    for wait in ("61", "-1", "soon"):
        reply = http.get(f"/jobs/abc?wait={wait}")
        assert reply.status_code == 422, (wait, reply.text)
        assert reply.json()["error"]["code"] == "invalid_request"
    missing = http.get("/jobs/no-such-job?wait=5")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "job_not_found"
