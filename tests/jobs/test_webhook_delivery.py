"""Delivering webhooks to a real loopback HTTP receiver: retries, backoff, signatures, counts."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client import REGISTRY
from standardwebhooks import Webhook

from jobs.webhooks.delivery import (
    Delivery,
    Outcome,
    backoff_s,
    deliver_once,
    http_client,
    signer_of,
)
from jobs.webhooks.settings import WebhookSettings

SECRET = "whsec_" + base64.b64encode(b"kennel-delivery-test-secret!").decode()
BODY = b'{"id":"job1","status":"succeeded"}'


@dataclass
class Receiver:
    """Answers `failures` 500s, then 200s; keeps every request it got."""

    url: str
    failures: int
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


def receiver_server(failures: int) -> tuple[ThreadingHTTPServer, Receiver]:
    state = Receiver("", failures)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = 500 if len(state.received) <= state.failures else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state


@pytest.fixture
def flaky_receiver() -> Iterator[Receiver]:
    """Answers 500 three times, then 200."""
    server, state = receiver_server(failures=3)
    yield state
    server.shutdown()
    server.server_close()


def settings(**overrides: object) -> WebhookSettings:
    values: dict[str, object] = {
        "secret": SECRET,
        "allow_private": True,
        "max_attempts": 5,
        "backoff_s": 0.05,
        "timeout_s": 5,
    }
    return WebhookSettings.model_validate({**values, **overrides})


def count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def tries(delivery: Delivery, config: WebhookSettings) -> list[Outcome]:
    """Try until an outcome other than RETRIED, as the deliverer does (without the waits)."""
    outcomes: list[Outcome] = []
    with http_client(config) as client:
        while not outcomes or outcomes[-1] == Outcome.RETRIED:
            attempt = Delivery(delivery.url, delivery.body, delivery.message_id, len(outcomes) + 1)
            outcomes.append(deliver_once(attempt, config, client, signer_of(config)))
    return outcomes


def test_the_fourth_delivery_reaches_a_receiver_that_failed_three_times(
    flaky_receiver: Receiver,
) -> None:
    delivered_before = count("kennel_webhook_deliveries_total", outcome="delivered")
    retried_before = count("kennel_webhook_deliveries_total", outcome="retried")
    errors_before = count("kennel_webhook_attempts_total", result="http_error")
    outcomes = tries(Delivery.of(flaky_receiver.url, BODY), settings())
    assert outcomes == [Outcome.RETRIED] * 3 + [Outcome.DELIVERED]
    assert len(flaky_receiver.received) == 4
    assert {h["webhook-id"] for h, _ in flaky_receiver.received} == {
        flaky_receiver.received[0][0]["webhook-id"]
    }  # one id across retries: receivers can drop duplicates
    for headers, body in flaky_receiver.received:
        assert body == BODY
        assert Webhook(SECRET).verify(body, headers) == {"id": "job1", "status": "succeeded"}
    assert count("kennel_webhook_deliveries_total", outcome="delivered") == delivered_before + 1
    assert count("kennel_webhook_deliveries_total", outcome="retried") == retried_before + 3
    assert count("kennel_webhook_attempts_total", result="http_error") == errors_before + 3


def test_after_the_last_attempt_the_delivery_is_given_up(flaky_receiver: Receiver) -> None:
    gave_up_before = count("kennel_webhook_deliveries_total", outcome="gave_up")
    outcomes = tries(Delivery.of(flaky_receiver.url, BODY), settings(max_attempts=3))
    assert outcomes == [Outcome.RETRIED, Outcome.RETRIED, Outcome.GAVE_UP]
    assert len(flaky_receiver.received) == 3
    assert count("kennel_webhook_deliveries_total", outcome="gave_up") == gave_up_before + 1


def test_an_unreachable_receiver_is_retried_then_given_up() -> None:
    server, state = receiver_server(failures=0)
    url = state.url
    server.server_close()  # nothing listens there now
    network_before = count("kennel_webhook_attempts_total", result="network_error")
    outcomes = tries(Delivery.of(url, BODY), settings(max_attempts=2))
    assert outcomes == [Outcome.RETRIED, Outcome.GAVE_UP]
    assert count("kennel_webhook_attempts_total", result="network_error") == network_before + 2


def test_a_private_url_is_refused_at_delivery_without_a_request(flaky_receiver: Receiver) -> None:
    refused_before = count("kennel_webhook_deliveries_total", outcome="refused")
    strict = settings(allow_private=False)
    assert tries(Delivery.of(flaky_receiver.url, BODY), strict) == [Outcome.REFUSED]
    assert flaky_receiver.received == []
    assert count("kennel_webhook_deliveries_total", outcome="refused") == refused_before + 1


def test_without_a_secret_deliveries_carry_an_id_but_no_signature() -> None:
    server, state = receiver_server(failures=0)
    try:
        outcomes = tries(Delivery.of(state.url, BODY), settings(secret=None))
    finally:
        server.shutdown()
        server.server_close()
    assert outcomes == [Outcome.DELIVERED]
    headers, _ = state.received[0]
    assert headers["webhook-id"].startswith("msg_")
    assert "webhook-signature" not in headers


def test_backoff_doubles_and_is_capped() -> None:
    capped = settings(backoff_s=1.0, backoff_max_s=5.0)
    waits = [backoff_s(n, capped, jitter=0) for n in range(1, 6)]
    assert waits == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert 0.9 <= backoff_s(1, capped) <= 1.1
