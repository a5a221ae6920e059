"""The Celery configuration clients and workers share, so both speak the same protocol."""

from typing import Any

from jobs.connection import RedisTarget
from jobs.contract import QUEUE_NAME, TASK_NAME
from jobs.settings import QueueSettings


def celery_config(settings: QueueSettings) -> dict[str, Any]:
    target = RedisTarget.from_settings(settings)
    return {
        "broker_url": target.broker_url(),
        "broker_transport_options": {
            **target.broker_options(),  # with sentinels: the master's name
            "visibility_timeout": settings.redelivery_timeout_s,
            # Sweep for a dead worker's jobs often enough that they come back soon after the
            # timeout (kombu's default sweep is every 100 s).
            "unacked_restore_interval": max(1, settings.redelivery_timeout_s // 5),
            "unacked_restore_throttle": 1,
            # Read the queues in sorted order, "kennel" (interactive) before "kennel.batch",
            # not round robin: interactive work is always taken first (jobs.protocol.QUEUES).
            "queue_order_strategy": "sorted",
        },
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        "task_routes": {TASK_NAME: {"queue": QUEUE_NAME}},
        "task_default_queue": QUEUE_NAME,
        "task_ignore_result": True,
        # Inference is idempotent: acknowledge after the job ends, and give a job back to the
        # queue when the worker running it dies, so nothing a worker took is lost.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "worker_hijack_root_logger": False,
    }
