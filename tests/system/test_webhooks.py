"""Webhooks against the real system: a worker, the deliverer, the API, and a real HTTP receiver
on loopback (hence KENNEL_WEBHOOK_ALLOW_PRIVATE=true). Signatures are checked with the few
lines of hmac + base64 a receiver would write, not with kennel's code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from stack.system import LocalSystem
from tests.conftest import start_system
from tests.metrics.scrape import scrape, value

SECRET = "whsec_" + base64.b64encode(b"kennel-system-webhook-secret").decode()
FAILURES = {"/flaky": 3}  # a path answers 500 this many times, then 200
SLOW_FIRST = {"/slow": 5.0}  # a path answers its first request after this many seconds
Requests = list[tuple[dict[str, str], bytes]]  # headers (lower-case names), body


@dataclass
class Receiver:
    url: str = ""
    received: dict[str, Requests] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, path: str, count: int, timeout_s: float = 30) -> Requests:
        deadline = time.monotonic() + timeout_s
        while len(self.received.get(path, [])) < count:
            assert time.monotonic() < deadline, f"{path}: {self.received.get(path)}"
            time.sleep(0.05)
        return self.received[path]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                got = state.received.setdefault(self.path, [])
                got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                failing = len(got) <= FAILURES.get(self.path, 0)
                delay_s = SLOW_FIRST.get(self.path, 0) if len(got) == 1 else 0
            time.sleep(delay_s)
            self.send_response(500 if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    system = start_system(
        tmp_path_factory.mktemp("webhooks"),
        KENNEL_WEBHOOK_ALLOW_PRIVATE="true",
        KENNEL_WEBHOOK_SECRET=SECRET,
        KENNEL_WEBHOOK_BACKOFF_S="0.2",
        KENNEL_WEBHOOK_MAX_ATTEMPTS="5",
    )
    yield system
    system.stop()


def verified(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """Standard Webhooks verification, written out: HMAC-SHA256 of "id.timestamp.body" with
    the base64 key after `whsec_`, compared with each `v1,` signature; a fresh timestamp."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    signatures = [s.removeprefix("v1,") for s in headers["webhook-signature"].split()]
    assert any(hmac.compare_digest(s, expected) for s in signatures), headers
    assert abs(time.time() - int(headers["webhook-timestamp"])) < 60
    job: dict[str, Any] = json.loads(body)
    return job


def submit(system: LocalSystem, image: bytes, **form: str) -> str:
    with httpx.Client(base_url=system.api_url, timeout=30) as client:
        response = client.post("/jobs", files={"image": image}, data=form)
        assert response.status_code == 202, response.text
        job_id: str = response.json()["id"]
        assert client.get(f"/jobs/{job_id}?wait=30").json()["status"] != "queued"
        return job_id


def test_each_event_asked_for_is_delivered_once_and_signed(
    hooked: LocalSystem, receiver: Receiver, dog_jpeg: bytes
) -> None:
    url = f"{receiver.url}/both"
    job_id = submit(hooked, dog_jpeg, webhook=url, webhook_events="running,completed")
    deliveries = receiver.wait("/both", 2)
    jobs = sorted((verified(h, b) for h, b in deliveries), key=lambda j: j["status"])
    assert [j["status"] for j in jobs] == ["running", "succeeded"]
    assert {j["id"] for j in jobs} == {job_id}
    assert jobs[1]["result"]["predictions"] and jobs[1]["webhook"]["url"] == url
    assert len({h["webhook-id"] for h, _ in deliveries}) == 2
    # the default is `completed` only
    other = submit(hooked, dog_jpeg, webhook=f"{receiver.url}/default")
    (only,) = receiver.wait("/default", 1)
    assert verified(*only)["id"] == other and verified(*only)["status"] == "succeeded"
    time.sleep(1)  # nothing more comes
    assert len(receiver.received["/both"]) == 2 and len(receiver.received["/default"]) == 1


def test_a_receiver_that_fails_three_times_gets_the_fourth_try(
    hooked: LocalSystem, receiver: Receiver, dog_jpeg: bytes
) -> None:
    metrics = hooked.metrics_urls()["webhooks"].removesuffix("/metrics")
    before = scrape(metrics)
    submit(hooked, dog_jpeg, webhook=f"{receiver.url}/flaky")
    tries = receiver.wait("/flaky", 4)
    assert len({h["webhook-id"] for h, _ in tries}) == 1  # one delivery, tried four times
    assert {b for _, b in tries} == {tries[0][1]}
    assert verified(*tries[-1])["status"] == "succeeded"
    after = scrape(metrics)
    for outcome, delta in (("retried", 3), ("delivered", 1)):
        name = "kennel_webhook_deliveries_total"
        assert value(after, name, outcome=outcome) - value(before, name, outcome=outcome) == delta


def test_a_failed_jobs_webhook_carries_its_error(
    hooked: LocalSystem, receiver: Receiver, truncated_jpeg: bytes
) -> None:
    job_id = submit(hooked, truncated_jpeg, webhook=f"{receiver.url}/failed")
    (delivery,) = receiver.wait("/failed", 1)
    job = verified(*delivery)
    assert job["id"] == job_id and job["status"] == "failed"
    assert job["error"]["code"] == "decode_failed" and job["error"]["message"]


def test_a_delivery_whose_deliverer_dies_mid_try_is_made_again_with_the_same_id(
    hooked: LocalSystem, receiver: Receiver, dog_jpeg: bytes
) -> None:
    assert hooked.webhooks is not None
    submit(hooked, dog_jpeg, webhook=f"{receiver.url}/slow")
    receiver.wait("/slow", 1)  # the receiver holds this try for 5 s
    hooked.webhooks.kill()  # SIGKILL: the message is neither acknowledged nor lost
    hooked.webhooks.start()
    first, second = receiver.wait("/slow", 2)  # after the redelivery timeout (5 s here)
    assert first[0]["webhook-id"] == second[0]["webhook-id"] and first[1] == second[1]
    assert verified(*second)["status"] == "succeeded"
