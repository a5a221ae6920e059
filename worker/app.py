"""create_celery: the Celery app a worker process runs, a thin shell around running a job."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from celery import Celery, Task
from celery.exceptions import Reject
from redis.exceptions import RedisError

from jobs.celery_config import celery_config
from jobs.contract import TASK_NAME
from worker.settings import WorkerSettings


def create_celery(settings: WorkerSettings, run: Callable[[Sequence[str], bool], None]) -> Celery:
    app = Celery("kennel-worker", set_as_current=False)
    app.conf.update(
        celery_config(settings.queue),
        # Threads share the process's ONNX sessions; the batcher gathers the images of every
        # message they hold. A message carries several jobs, so a few threads are enough.
        worker_pool="threads",
        worker_concurrency=settings.jobs_in_flight,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )

    @app.task(name=TASK_NAME, shared=False, ignore_result=True, bind=True)  # type: ignore[untyped-decorator]
    def classify(task: Task, job_ids: list[str] | str, suspect: bool = False) -> None:
        # One message names several jobs (jobs.protocol.queue_message); a plain id is a message
        # queued before messages carried several.
        ids = [job_ids] if isinstance(job_ids, str) else job_ids
        # kombu marks a message it restored from a dead worker's unacknowledged ones.
        redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
        try:
            run(ids, suspect or redelivered)
        except (RedisError, OSError) as exc:
            # The jobs' state is unknown (Redis did not answer): give the message back rather
            # than acknowledge it, so no job is lost nor left running forever; its jobs that
            # ended meanwhile are skipped when it comes back.
            raise Reject(f"Redis failed during jobs {ids}: {exc}", requeue=True) from exc

    return app
