"""Cancel and deadlines through the API in-process, against a real redis-server.

No worker consumes the queue here: a job stays queued until it is canceled, or until a real
worker heartbeat (`worker.heartbeat.Heartbeat`, its thread running against the same Redis)
expires it at its deadline: the case of a job no worker is free to take.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
import redis

from api.settings import ApiSettings
from jobs.client import JobClient
from jobs.contract import Job, JobStatus, ModelInfo
from jobs.protocol import WorkerProtocol
from jobs.settings import QueueSettings
from tests.api.conftest import MODEL, running
from tests.conftest import photo
from worker.heartbeat import Heartbeat
from worker.rescue import Rescuer

DOG = photo("grad_dog_cat.jfif").data
KEYS = "k-alice alice 600\nk-bob bob 600\n"


@pytest.fixture
def heartbeat(redis_url: str) -> Iterator[Heartbeat]:
    """A worker's heartbeat and nothing else: it announces MODEL and sweeps overdue jobs."""
    with redis.Redis.from_url(redis_url) as client:
        steps = WorkerProtocol(client, max_attempts=3)
        model = ModelInfo(name=MODEL, labels=["a"])
        beat = Heartbeat(steps, "sweeper", [model], 1.0, Rescuer(steps, 60), promote_after_s=30)
        beat.start()
        deadline = time.monotonic() + 10
        while not steps.announced("sweeper"):  # its thread's first beat announces MODEL
            assert time.monotonic() < deadline, "the heartbeat never announced"
            time.sleep(0.01)
        yield beat
        beat.stop()


def api(redis_url: str, **settings: object) -> ApiSettings:
    return ApiSettings(queue=QueueSettings(redis_url=redis_url), **settings)  # type: ignore[arg-type]


def submit(**form: str) -> dict[str, object]:
    return {"files": {"image": ("dog.jpg", DOG)}, "data": form}


def at(value: object) -> datetime:
    return datetime.fromisoformat(str(value))


def test_cancel_a_queued_job_then_again(redis_url: str, heartbeat: Heartbeat) -> None:
    async def run() -> list[httpx.Response]:
        async with running(api(redis_url)) as http:
            job = (await http.post("/jobs", **submit())).json()  # type: ignore[arg-type]
            return [
                await http.post(f"/jobs/{job['id']}/cancel"),
                await http.get(f"/jobs/{job['id']}"),
                await http.post(f"/jobs/{job['id']}/cancel"),
                await http.post("/jobs/no-such-job/cancel"),
            ]

    canceled, read, again, unknown = asyncio.run(run())
    assert canceled.status_code == 200, canceled.text
    job = canceled.json()
    assert job["status"] == "canceled" and job["error"]["code"] == "canceled"
    assert read.json() == job
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "job_already_ended"
    assert "already ended: canceled" in again.json()["error"]["message"]
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "job_not_found"


def test_another_clients_job_cannot_be_canceled(
    redis_url: str, heartbeat: Heartbeat, tmp_path: Path
) -> None:
    (tmp_path / "keys.txt").write_text(KEYS)
    alice, bob = ({"Authorization": f"Bearer k-{name}"} for name in ("alice", "bob"))

    async def run() -> list[httpx.Response]:
        async with running(api(redis_url, keys=tmp_path / "keys.txt")) as http:
            posted = await http.post("/jobs", headers=alice, **submit())  # type: ignore[arg-type]
            job_id = posted.json()["id"]
            return [
                await http.post(f"/jobs/{job_id}/cancel", headers=bob),
                await http.get(f"/jobs/{job_id}/events", headers=bob),
                await http.get(f"/jobs/{job_id}", headers=alice),
                await http.post(f"/jobs/{job_id}/cancel"),
            ]

    by_bob, events_by_bob, still, anonymous = asyncio.run(run())
    assert by_bob.status_code == 404 and by_bob.json()["error"]["code"] == "job_not_found"
    assert events_by_bob.status_code == 404
    assert events_by_bob.headers["content-type"] == "application/json"
    assert still.json()["status"] == "queued"
    assert anonymous.status_code == 401


def test_a_queued_job_no_worker_takes_expires_at_its_deadline(
    redis_url: str, heartbeat: Heartbeat
) -> None:
    async def run() -> tuple[dict[str, object], float, httpx.Response]:
        async with running(api(redis_url)) as http:
            posted = await http.post("/jobs", **submit(deadline_s="1"))  # type: ignore[arg-type]
            job_id = posted.json()["id"]
            began = time.monotonic()
            ended = (await http.get(f"/jobs/{job_id}?wait=10")).json()
            waited = time.monotonic() - began
            return ended, waited, await http.post(f"/jobs/{job_id}/cancel")

    job, waited, cancel = asyncio.run(run())
    assert job["status"] == "expired", job
    assert job["error"] == {
        "code": "deadline_exceeded",
        "message": "The job was not started before its deadline.",
    }
    assert job["started_at"] is None and job["attempts"] == 0
    assert (at(job["deadline_at"]) - at(job["created_at"])).total_seconds() == pytest.approx(1)
    # The heartbeat looks every 0.5 s: the job ends within that of its deadline.
    assert 0.5 < waited < 2.0, waited
    assert cancel.status_code == 409


def test_predict_answers_504_for_an_expired_job_and_409_for_a_canceled_one(
    redis_url: str, heartbeat: Heartbeat
) -> None:
    async def run() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
        async with running(api(redis_url, predict_timeout_s=10)) as http:
            expiring = await http.post("/predict", **submit(deadline_s="0.3"))  # type: ignore[arg-type]
            predicting = asyncio.create_task(http.post("/predict", **submit()))  # type: ignore[arg-type]
            await asyncio.sleep(0.5)
            with redis.Redis.from_url(redis_url) as client:
                waiting = [i.decode() for i in client.zrange("kennel:queued", 0, -1)]
            assert len(waiting) == 1
            canceled = await http.post(f"/jobs/{waiting[0]}/cancel")
            return expiring, canceled, await predicting

    expired, canceled, predicted = asyncio.run(run())
    assert expired.status_code == 504, expired.text
    assert expired.json()["error"]["code"] == "deadline_exceeded"
    assert canceled.status_code == 200
    assert predicted.status_code == 409, predicted.text
    assert predicted.json()["error"]["code"] == "canceled"
    assert canceled.json()["id"] in predicted.json()["error"]["message"]


def test_deadlines_from_the_field_the_header_or_the_default(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url) as client:
        WorkerProtocol(client, 3).announce("w", [ModelInfo(name=MODEL, labels=["a"])], 60)

    async def run(settings: ApiSettings, **kwargs: object) -> dict[str, object]:
        async with running(settings) as http:
            reply = await http.post("/jobs", **kwargs)  # type: ignore[arg-type]
            assert reply.status_code == 202, reply.text
            job: dict[str, object] = reply.json()
            return job

    plain = api(redis_url)
    defaulted = ApiSettings(queue=QueueSettings(redis_url=redis_url, job_deadline_s=30))
    jobs = [
        asyncio.run(run(plain, **submit(deadline_s="2.5"))),
        asyncio.run(run(plain, headers={"Cancel-After": "7"}, **submit())),
        asyncio.run(run(defaulted, **submit())),
        asyncio.run(run(defaulted, **submit(deadline_s="4"))),
        asyncio.run(run(plain, **submit())),
    ]
    deadlines = [
        None if j["deadline_at"] is None else (at(j["deadline_at"]) - at(j["created_at"]))
        for j in jobs
    ]
    assert [d if d is None else d.total_seconds() for d in deadlines] == [2.5, 7, 30, 4, None]
    for job in jobs:  # every job says when its record goes (KENNEL_JOB_TTL_S, a day)
        assert (at(job["expires_at"]) - at(job["created_at"])).total_seconds() == 86400


def test_a_quiet_stream_gets_keepalives_then_the_end(redis_url: str, heartbeat: Heartbeat) -> None:
    async def run() -> list[bytes | None]:
        jobs = JobClient.connect(QueueSettings(redis_url=redis_url))
        try:
            job = (await jobs.submit(DOG, MODEL, 1, "api")).job
            seen: list[bytes | None] = []
            async for record in jobs.follow(job.id, keepalive_s=0.2):
                seen.append(record)
                if len(seen) == 3:
                    await jobs.cancel(job.id)
            return seen
        finally:
            await jobs.close()

    seen = asyncio.run(run())
    assert seen[1:3] == [None, None]  # nothing happened: two keep-alives, 0.2 s apart
    states = [Job.model_validate_json(r).status for r in seen if r is not None]
    assert states == [JobStatus.QUEUED, JobStatus.CANCELED]
