"""Every error code the API can answer today, with its HTTP status and the JSON error shape.

In-process: the app through httpx's ASGITransport, a real redis-server of the tests' own, and a
worker's announcement written where a model must be served. The last test checks that every
code in api/errors.py's status table is exercised here, so a new code comes with its case.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis
from PIL import Image

from api.errors import STATUS
from jobs.contract import Job
from stack.processes import ROOT, free_port
from tests.api.conftest import MODEL, announce, caller
from tests.conftest import fake_throughput, photo, submit_job

SUBMIT = ["/jobs", "/predict"]


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Case:
    name: str
    code: str
    status: int
    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: dict[str, Any] = field(default_factory=dict)  # QueueSettings for this case
    served: bool = True  # a worker has announced MODEL
    redis_down: bool = False
    before: Callable[[str], object] | None = None  # given the Redis URL, sets the scene


def backlog(redis_url: str) -> None:
    """20 jobs waiting for MODEL, and about 10 ended a second recently: 2 s expected wait."""
    with redis.Redis.from_url(redis_url) as client:
        for _ in range(20):
            submit_job(client, Job(model=MODEL, top_k=1, source="api"), b"x")
        fake_throughput(client, MODEL, 10)


def used_key(redis_url: str) -> httpx.Response:
    """The Idempotency-Key `order-17` made a job of DOG."""
    return caller(redis_url)("POST", "/jobs", headers={"Idempotency-Key": "order-17"}, **image(DOG))


def image(data: bytes, **form: str) -> dict[str, Any]:
    return {"files": {"image": ("upload.bin", data)}, "data": form}


DOG = photo("grad_dog_cat.jfif").data
CASES = [
    *[
        c
        for path in SUBMIT
        for c in (
            Case("empty", "empty_file", 422, "POST", path, image(b"")),
            Case("text", "not_an_image", 415, "POST", path, image(b"name,breed\nrex,beagle\n")),
            Case(
                "large",
                "file_too_large",
                413,
                "POST",
                path,
                image(DOG),
                queue={"max_upload_bytes": 1000},
            ),
            Case(
                "pixels",
                "too_many_pixels",
                413,
                "POST",
                path,
                image(png(40, 40)),
                queue={"max_image_pixels": 100},
            ),
            Case("elongated", "bad_aspect_ratio", 422, "POST", path, image(png(1, 40))),
            Case("model", "unknown_model", 422, "POST", path, image(DOG, model="nope")),
            Case("top_k", "invalid_request", 422, "POST", path, image(DOG, top_k="0")),
            Case("priority", "invalid_request", 422, "POST", path, image(DOG, priority="urgent")),
            Case("no image", "invalid_request", 422, "POST", path, {"data": {"model": MODEL}}),
            Case(
                "private webhook",
                "webhook_not_allowed",
                422,
                "POST",
                path,
                image(DOG, webhook="http://127.0.0.1:8000/hook"),
            ),
            Case(
                "webhook event",
                "invalid_request",
                422,
                "POST",
                path,
                image(DOG, webhook="https://example.com/hook", webhook_events="running,done"),
            ),
            Case(
                "webhook events alone",
                "invalid_request",
                422,
                "POST",
                path,
                image(DOG, webhook_events="completed"),
            ),
            Case("deadline 0", "invalid_request", 422, "POST", path, image(DOG, deadline_s="0")),
            Case(
                "deadline inf", "invalid_request", 422, "POST", path, image(DOG, deadline_s="inf")
            ),
            Case("no worker", "no_models", 503, "POST", path, image(DOG), served=False),
            Case("redis down", "queue_unavailable", 503, "POST", path, image(DOG), redis_down=True),
            Case(
                "no replica confirms",  # this Redis has none; WAIT gives up after 50 ms
                "queue_unavailable",
                503,
                "POST",
                path,
                image(DOG),
                queue={"redis_min_replicas": 1, "redis_replica_timeout_ms": 50},
            ),
            Case(
                "full",
                "queue_full",
                429,
                "POST",
                path,
                image(DOG),
                queue={"max_queued_bytes": 1000},
            ),
            Case(
                "deadline",
                "deadline_unreachable",
                429,
                "POST",
                path,
                image(DOG, deadline_s="0.5"),
                before=backlog,
            ),
            Case(
                "key reused",
                "idempotency_key_reused",
                422,
                "POST",
                path,
                {"headers": {"Idempotency-Key": "order-17"}, **image(png(40, 40))},
                before=used_key,
            ),
            Case(
                "key too long",
                "invalid_request",
                422,
                "POST",
                path,
                {"headers": {"Idempotency-Key": "k" * 256}, **image(DOG)},
            ),
        )
    ],
    Case("unknown job", "job_not_found", 404, "GET", "/jobs/no-such-job"),
    Case("deadline nan", "invalid_request", 422, "POST", "/jobs", image(DOG, deadline_s="nan")),
    Case("deadline soon", "invalid_request", 422, "POST", "/jobs", image(DOG, deadline_s="soon")),
    Case(
        "negative Cancel-After",
        "invalid_request",
        422,
        "POST",
        "/jobs",
        {**image(DOG), "headers": {"Cancel-After": "-1"}},
    ),
    Case(
        "deadline twice",
        "invalid_request",
        422,
        "POST",
        "/predict",
        {**image(DOG, deadline_s="5"), "headers": {"Cancel-After": "5"}},
    ),
    Case("cancel unknown job", "job_not_found", 404, "POST", "/jobs/no-such-job/cancel"),
    Case("events of unknown job", "job_not_found", 404, "GET", "/jobs/no-such-job/events"),
    Case("read, redis down", "queue_unavailable", 503, "GET", "/jobs/x", redis_down=True),
    Case("cancel, redis down", "queue_unavailable", 503, "POST", "/jobs/x/cancel", redis_down=True),
    Case("events, redis down", "queue_unavailable", 503, "GET", "/jobs/x/events", redis_down=True),
    Case("models, redis down", "queue_unavailable", 503, "GET", "/models", redis_down=True),
    Case("no route", "http_error", 404, "GET", "/no-such-route"),
    Case("wrong method", "http_error", 405, "GET", "/predict"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.path} {c.name}" for c in CASES])
def test_each_error_has_its_status_and_code(case: Case, redis_url: str) -> None:
    if case.served:
        announce(redis_url, [MODEL])
    if case.before is not None:
        case.before(redis_url)
    url = f"redis://127.0.0.1:{free_port()}/0" if case.redis_down else redis_url
    response: httpx.Response = caller(url, **case.queue)(case.method, case.path, **case.kwargs)
    assert response.status_code == case.status, response.text
    error = response.json()["error"]
    assert error["code"] == case.code and error["message"], error
    if case.status == 503:
        assert response.headers["Retry-After"] == "5"
    if case.status == 429:
        assert int(response.headers["Retry-After"]) >= 1


def test_a_rejected_upload_leaves_nothing_queued(announced: str) -> None:
    call = caller(announced)
    assert call("POST", "/jobs", **image(b"not an image")).status_code == 415
    with redis.Redis.from_url(announced) as client:
        # only the announcement: the models, the heartbeat and the set of workers
        assert client.dbsize() == 3


# Codes that need more than the app in-process (a worker, a keys file, a slow socket), and the
# test that checks each against the real system.
TESTED_ELSEWHERE = {
    "upload_too_slow": "tests/system/test_slow_clients.py",
    "unauthorized": "tests/system/test_api_keys.py",
    "forbidden": "tests/system/test_api_keys.py",
    "rate_limited": "tests/system/test_api_keys.py",
    "decode_failed": "tests/system/test_bad_input.py",
    "poison": "tests/system/test_poison.py",
    "image_expired": "tests/jobs/test_protocol.py",
    "inference_failed": "tests/bot/test_replies.py",
    "job_already_ended": "tests/api/test_lifecycle.py",
    "canceled": "tests/api/test_lifecycle.py",
    "deadline_exceeded": "tests/api/test_lifecycle.py",
}


def test_every_code_in_the_status_table_is_exercised() -> None:
    exercised = {(c.code, c.status) for c in CASES}
    untested = {
        (code.value, status)
        for code, status in STATUS.items()
        if (code.value, status) not in exercised and code.value not in TESTED_ELSEWHERE
    }
    assert not untested
    for code, test_file in TESTED_ELSEWHERE.items():
        assert code in (ROOT / test_file).read_text().lower(), (code, test_file)
