"""Every error code the API can answer today, with its HTTP status and the JSON error shape.

In-process: the app through httpx's ASGITransport, a real redis-server of the tests' own, and a
worker's announcement written where a model must be served. The last test checks that every
code in api/errors.py's status table is exercised here, so a new code comes with its case.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis
from PIL import Image

from api.errors import STATUS
from stack.processes import ROOT, free_port
from tests.api.conftest import MODEL, announce, caller
from tests.conftest import photo

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
            Case("no worker", "no_models", 503, "POST", path, image(DOG), served=False),
            Case("redis down", "queue_unavailable", 503, "POST", path, image(DOG), redis_down=True),
        )
    ],
    Case("unknown job", "job_not_found", 404, "GET", "/jobs/no-such-job"),
    Case("read, redis down", "queue_unavailable", 503, "GET", "/jobs/x", redis_down=True),
    Case("models, redis down", "queue_unavailable", 503, "GET", "/models", redis_down=True),
    Case("no route", "http_error", 404, "GET", "/no-such-route"),
    Case("wrong method", "http_error", 405, "GET", "/predict"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.path} {c.name}" for c in CASES])
def test_each_error_has_its_status_and_code(case: Case, redis_url: str) -> None:
    if case.served:
        announce(redis_url, [MODEL])
    url = f"redis://127.0.0.1:{free_port()}/0" if case.redis_down else redis_url
    response: httpx.Response = caller(url, **case.queue)(case.method, case.path, **case.kwargs)
    assert response.status_code == case.status, response.text
    error = response.json()["error"]
    assert error["code"] == case.code and error["message"], error
    if case.status == 503:
        assert response.headers["Retry-After"] == "5"


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
    "webhook_not_allowed": "tests/jobs/test_webhook_targets.py",
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
