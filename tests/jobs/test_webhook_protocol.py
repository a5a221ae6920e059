"""The job protocol's webhook steps against a real redis-server: the transition queues the
delivery in the same script, and a retry waits in a sorted set until it is due."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import redis

from jobs import protocol
from jobs.contract import (
    WEBHOOK_QUEUE_NAME,
    WEBHOOK_TASK_NAME,
    Job,
    JobStatus,
    Webhook,
    WebhookEvent,
)
from jobs.protocol import WebhookProtocol, WorkerProtocol
from tests.conftest import submit_job

URL = "https://receiver.example/hook"
FAILED = '{"code": "decode_failed", "message": "not a JPEG"}'


def submitted(client: redis.Redis, *events: WebhookEvent) -> str:
    webhook = Webhook(url=URL, events=list(events)) if events else None
    job = Job(model="imagewoof", top_k=2, source="api", webhook=webhook)
    assert submit_job(client, job, b"image").outcome == "queued"
    return job.id


def deliveries(client: redis.Redis) -> list[list[Any]]:
    """The webhook task's arguments of every queued delivery, oldest first (kombu's order)."""
    found = []
    for raw in reversed(client.lrange(WEBHOOK_QUEUE_NAME, 0, -1)):
        message = json.loads(raw)
        assert message["headers"]["task"] == WEBHOOK_TASK_NAME
        body = message["body"]
        if message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, kwargs, _ = json.loads(body)
        assert kwargs == {} and message["properties"]["delivery_tag"]
        found.append(args)
    return found


def test_each_transition_asked_for_queues_its_delivery_with_the_record_as_written(
    client: redis.Redis,
) -> None:
    steps = WorkerProtocol(client, max_attempts=3)
    job_id = submitted(client, WebhookEvent.RUNNING, WebhookEvent.COMPLETED)
    steps.start(job_id, "worker-a")
    ended = steps.finish(job_id, JobStatus.FAILED, FAILED)
    assert steps.finish(job_id, JobStatus.FAILED, FAILED) is None  # a late duplicate: no webhook
    running, completed = deliveries(client)
    assert running[0] == URL and running[2:] == [f"msg_{job_id}_running_1", 1]
    assert Job.model_validate_json(running[1]).status == JobStatus.RUNNING
    assert completed[2:] == [f"msg_{job_id}_completed", 1]
    assert Job.model_validate_json(completed[1]) == ended
    assert completed[1].encode() == client.get(protocol.job_key(job_id))


def test_only_the_events_asked_for_are_queued(client: redis.Redis) -> None:
    steps = WorkerProtocol(client, max_attempts=3)
    quiet, default = submitted(client), submitted(client, WebhookEvent.COMPLETED)
    for job_id in (quiet, default):
        steps.start(job_id, "worker-a")
        steps.finish(job_id, JobStatus.FAILED, FAILED)
    assert [args[2] for args in deliveries(client)] == [f"msg_{default}_completed"]


def test_a_poison_job_sends_completed(client: redis.Redis) -> None:
    steps = WorkerProtocol(client, max_attempts=1)
    job_id = submitted(client, WebhookEvent.COMPLETED)
    steps.start(job_id, "worker-a")  # that worker died; the next delivery is past the cap
    assert steps.start(job_id, "worker-b").outcome == "poison"
    ((_, record, webhook_id, _),) = deliveries(client)
    assert webhook_id == f"msg_{job_id}_completed"
    assert json.loads(record)["error"]["code"] == "poison"


def test_a_retry_waits_until_due_then_is_queued_once(client: redis.Redis) -> None:
    hooks = WebhookProtocol(client)
    now = time.time()
    hooks.retry_later(URL, '{"id": "j"}', "msg_j_completed", 2, due=now + 30)
    hooks.retry_later(URL, '{"id": "k"}', "msg_k_completed", 3, due=now - 1)
    assert hooks.release_due(now) == 1  # one still waits
    assert hooks.release_due(now) == 1  # and the due one is not queued twice
    assert deliveries(client) == [[URL, '{"id": "k"}', "msg_k_completed", 3]]
    assert hooks.release_due(now + 31) == 0
    assert [args[2] for args in deliveries(client)] == ["msg_k_completed", "msg_j_completed"]
