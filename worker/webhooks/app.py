"""create_celery: the deliverer's Celery app, a thin shell around one delivery try."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery
from celery.exceptions import Reject
from redis.exceptions import RedisError

from jobs.celery_config import celery_config
from jobs.contract import WEBHOOK_QUEUE_NAME, WEBHOOK_TASK_NAME
from jobs.settings import QueueSettings
from jobs.webhooks.settings import WebhookSettings


def create_celery(
    queue: QueueSettings, settings: WebhookSettings, deliver: Callable[[str, str, str, int], Any]
) -> Celery:
    app = Celery("kennel-webhooks", set_as_current=False)
    app.conf.update(
        celery_config(queue),
        # Deliveries wait on the network, not the CPU: threads, each holding one message.
        worker_pool="threads",
        worker_concurrency=settings.concurrency,
        worker_prefetch_multiplier=1,
        task_default_queue=WEBHOOK_QUEUE_NAME,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )

    @app.task(name=WEBHOOK_TASK_NAME, shared=False, ignore_result=True)  # type: ignore[untyped-decorator]
    def webhook(url: str, body: str, webhook_id: str, attempt: int) -> None:
        try:
            deliver(url, body, webhook_id, attempt)
        except (RedisError, OSError) as exc:
            # The next try could not be scheduled: give the message back rather than lose it.
            raise Reject(
                f"Redis failed scheduling webhook {webhook_id}: {exc}", requeue=True
            ) from exc

    return app
