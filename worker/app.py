"""create_celery: the Celery app a worker process runs, a thin shell around running a job."""

from __future__ import annotations

from collections.abc import Callable

from celery import Celery

from jobs.celery_config import celery_config
from jobs.contract import TASK_NAME
from worker.settings import WorkerSettings


def create_celery(settings: WorkerSettings, run: Callable[[str], None]) -> Celery:
    app = Celery("kennel-worker", set_as_current=False)
    app.conf.update(
        celery_config(settings.queue),
        # Threads share the process's ONNX sessions; the batcher gathers their images.
        worker_pool="threads",
        worker_concurrency=settings.jobs_in_flight,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )

    @app.task(name=TASK_NAME, shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def classify(job_id: str) -> None:
        run(job_id)

    return app


def requeue(app: Celery, job_id: str) -> None:
    """Send a job's message again (its worker died, or its message was lost)."""
    app.send_task(TASK_NAME, args=[job_id], task_id=job_id)
