"""create_celery: the Celery app a worker process runs, a thin shell around WorkerRuntime."""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.signals import worker_ready

from jobs.celery_config import celery_config
from jobs.contract import TASK_NAME
from worker.rescue import Rescuer
from worker.runtime import WorkerRuntime
from worker.settings import WorkerSettings


def create_celery(settings: WorkerSettings, runtime: WorkerRuntime) -> Celery:
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
        runtime.run(job_id)

    def requeue(job_id: str) -> None:
        app.send_task(TASK_NAME, args=[job_id], task_id=job_id)

    # A job still not started after twice the redelivery timeout, with no message anywhere,
    # lost it in a dying worker; see worker/rescue.py.
    runtime.rescuer = Rescuer(runtime.store, requeue, 2 * settings.queue.redelivery_timeout_s)

    def announce(**_: Any) -> None:
        runtime.start_heartbeat()

    worker_ready.connect(announce, weak=False)
    return app
