"""Cancel, deadlines and the events stream against the real system: redis-server, a Celery
worker process, uvicorn, real HTTP, through the Python client (`kennel.client`).

The worker is paused (SIGSTOP) where a test needs a job to stay queued; less than a heartbeat,
so it is never taken for dead.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from jobs.contract import Job, JobStatus
from kennel.client import Client
from kennel.errors import JobAlreadyEnded, JobNotFound
from stack.processes import Service
from stack.system import LocalSystem
from tests.conftest import start_system
from tests.metrics.scrape import scrape, value, wait_for

MODEL = "imagewoof"


@contextmanager
def paused(worker: Service) -> Iterator[None]:
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(worker.pid, signal.SIGCONT)


def worker_metrics(system: LocalSystem) -> str:
    return f"http://127.0.0.1:{system.worker_metrics_ports[0]}"


def counted(system: LocalSystem, name: str, **labels: str) -> float:
    return value(scrape(worker_metrics(system)), name, **labels)


@pytest.fixture
def kennel(system: LocalSystem) -> Iterator[Client]:
    with Client(system.api_url, poll_s=0.05) as client:
        yield client


@pytest.fixture(scope="module")
def slow_batches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    """A worker whose batches wait 2 s for more images: a lone job stays `running` that long."""
    running = start_system(tmp_path_factory.mktemp("slow"), KENNEL_WORKER_MAX_WAIT_MS="2000")
    yield running
    running.stop()


def test_events_follow_a_job_from_queued_to_its_end(
    system: LocalSystem, kennel: Client, dog_jpeg: bytes
) -> None:
    with paused(system.workers[0]):
        job = kennel.submit(dog_jpeg)
        events = kennel.events(job.id)
        first = next(events)  # the stream is open before the job can start
    rest = list(events)
    names = [e.event for e in (first, *rest)]
    assert names == ["queued", "running", "succeeded"], names
    jobs = [Job.model_validate_json(e.data) for e in (first, *rest)]
    assert [j.status.value for j in jobs] == names
    assert jobs[1].worker is not None and jobs[2].result is not None
    assert jobs[2] == kennel.get(job.id)
    # A client that connects late gets the state it is in, then the end of the stream.
    late = list(kennel.events(job.id))
    assert [(e.event, Job.model_validate_json(e.data)) for e in late] == [("succeeded", jobs[2])]
    with pytest.raises(JobNotFound):
        list(kennel.events("no-such-job"))


def test_a_canceled_queued_job_is_never_run(
    system: LocalSystem, kennel: Client, dog_jpeg: bytes
) -> None:
    skipped = counted(system, "kennel_jobs_skipped_total", model=MODEL, when="start")
    with paused(system.workers[0]):
        job = kennel.submit(dog_jpeg)
        canceled = kennel.cancel(job.id)
    assert canceled.status == JobStatus.CANCELED and canceled.error is not None
    assert canceled.error.code == "canceled"
    # Its message still reaches the worker, which finds the job ended and runs nothing.
    wait_for(
        lambda: (
            counted(system, "kennel_jobs_skipped_total", model=MODEL, when="start") == skipped + 1
        )
    )
    stored = kennel.get(job.id)
    assert stored == canceled and stored.attempts == 0 and stored.started_at is None
    assert [e.event for e in kennel.events(job.id)] == ["canceled"]
    with pytest.raises(JobAlreadyEnded) as ended:
        kennel.cancel(job.id)
    assert (ended.value.code, ended.value.status) == ("job_already_ended", 409)
    with pytest.raises(JobNotFound):
        kennel.cancel("no-such-job")


def test_a_queued_job_past_its_deadline_never_runs(
    system: LocalSystem, kennel: Client, dog_jpeg: bytes
) -> None:
    def expired() -> float:
        return sum(
            counted(system, "kennel_jobs_expired_total", model=MODEL, step=step)
            for step in ("start", "sweep")
        )

    before = expired()
    with paused(system.workers[0]):
        job = kennel.submit(dog_jpeg, deadline_s=0.3)
        time.sleep(0.6)
    assert job.deadline_at is not None
    ended = kennel.wait(job.id, timeout_s=10)
    assert ended.status == JobStatus.EXPIRED and ended.started_at is None
    assert ended.error is not None and ended.error.code == "deadline_exceeded"
    wait_for(lambda: expired() == before + 1)


def test_a_canceled_running_jobs_result_is_dropped(
    slow_batches: LocalSystem, dog_jpeg: bytes
) -> None:
    api_metrics = slow_batches.api_url
    canceled_before = value(
        scrape(api_metrics), "kennel_jobs_canceled_total", source="api", was="running"
    )
    dropped = counted(slow_batches, "kennel_jobs_skipped_total", model=MODEL, when="finish")
    with Client(slow_batches.api_url) as kennel:
        job = kennel.submit(dog_jpeg)
        events = kennel.events(job.id)
        assert next(e for e in events if e.event == "running")  # waiting for its batch
        canceled = kennel.cancel(job.id)
        assert [e.event for e in events] == ["canceled"]
        assert canceled.status == JobStatus.CANCELED and canceled.started_at is not None
        wait_for(
            lambda: (
                counted(slow_batches, "kennel_jobs_skipped_total", model=MODEL, when="finish")
                == dropped + 1
            )
        )
        stored = kennel.get(job.id)
    assert stored == canceled and stored.result is None
    assert value(
        scrape(api_metrics), "kennel_jobs_canceled_total", source="api", was="running"
    ) == (canceled_before + 1)
