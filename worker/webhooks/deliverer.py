"""What the deliverer does with one webhook message, and the thread that releases due retries.

A try that fails is scheduled again in Redis (`WebhookProtocol.retry_later`), not with Celery's
countdown, and its message is acknowledged: a long backoff never holds a message past kombu's
visibility timeout, so a try is neither lost nor made twice by a redelivery.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import httpx

from jobs.protocol import WebhookProtocol
from jobs.webhooks.delivery import Delivery, Outcome, backoff_s, deliver_once
from jobs.webhooks.metrics import WEBHOOK_RETRIES_WAITING
from jobs.webhooks.settings import WebhookSettings
from jobs.webhooks.signing import Signer

log = logging.getLogger(__name__)

# How often due retries are moved back to the queue: a retry is late by at most this.
RELEASE_EVERY_S = 0.2


@dataclass
class Deliverer:
    protocol: WebhookProtocol
    settings: WebhookSettings
    client: httpx.Client
    signer: Signer | None

    def deliver(self, url: str, body: str, webhook_id: str, attempt: int) -> Outcome:
        """One try of a delivery; a failed one is scheduled again after its backoff."""
        delivery = Delivery(url, body.encode(), webhook_id, attempt)
        outcome = deliver_once(delivery, self.settings, self.client, self.signer)
        if outcome == Outcome.RETRIED:
            due = time.time() + backoff_s(attempt, self.settings)
            self.protocol.retry_later(url, body, webhook_id, attempt + 1, due)
        return outcome


class RetryReleaser:
    """A thread that puts each due retry back on the webhook queue (Redis sorted set -> list)."""

    def __init__(self, protocol: WebhookProtocol, every_s: float = RELEASE_EVERY_S) -> None:
        self.protocol = protocol
        self.every_s = every_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-retries", daemon=True)
        self._failing = False  # log an outage once, not every tick

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping.wait(self.every_s):
            try:
                WEBHOOK_RETRIES_WAITING.set(self.protocol.release_due(time.time()))
            except Exception as exc:  # Redis away: the retries wait in Redis, try again soon
                if not self._failing:
                    log.warning(
                        "releasing due webhook retries failed (until Redis answers): %s", exc
                    )
                self._failing = True
            else:
                if self._failing:
                    log.info("releasing due webhook retries again")
                self._failing = False
