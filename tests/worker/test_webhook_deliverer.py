"""The deliverer's one step, against a real redis-server and a real loopback receiver: a
failed try schedules the next in Redis (not a Celery countdown); the last one does not."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
import redis

from jobs.protocol import WEBHOOKS_DUE, WebhookProtocol
from jobs.webhooks.delivery import Outcome, http_client
from jobs.webhooks.settings import WebhookSettings
from stack.redis import EmbeddedRedis
from worker.webhooks.deliverer import Deliverer

SETTINGS = WebhookSettings(allow_private=True, max_attempts=3, backoff_s=10)


@pytest.fixture
def failing_url() -> Iterator[str]:
    """A receiver that answers every POST with 503."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def deliverer(redis_server: EmbeddedRedis) -> Iterator[Deliverer]:
    with redis.Redis.from_url(redis_server.url) as client, http_client(SETTINGS) as http:
        client.flushdb()
        yield Deliverer(WebhookProtocol(client), SETTINGS, http, signer=None)


def scheduled(client: redis.Redis) -> list[tuple[list[object], float]]:
    found = []
    for raw, due in client.zrange(WEBHOOKS_DUE, 0, -1, withscores=True):
        args, _, _ = json.loads(base64.b64decode(json.loads(raw)["body"]))
        found.append((args, due))
    return found


def test_a_failed_try_is_scheduled_after_its_backoff_with_the_same_id(
    deliverer: Deliverer, failing_url: str
) -> None:
    now = time.time()
    assert deliverer.deliver(failing_url, '{"id": "j"}', "msg_j_completed", 2) == Outcome.RETRIED
    ((args, due),) = scheduled(deliverer.protocol.redis)
    assert args == [failing_url, '{"id": "j"}', "msg_j_completed", 3]
    assert now + 2 * 10 * 0.9 <= due <= time.time() + 2 * 10 * 1.1  # 10 s doubled once, +-10%


def test_the_last_try_schedules_nothing(deliverer: Deliverer, failing_url: str) -> None:
    assert deliverer.deliver(failing_url, "{}", "msg_j_completed", 3) == Outcome.GAVE_UP
    assert scheduled(deliverer.protocol.redis) == []
