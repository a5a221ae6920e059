"""Delivering one webhook: POST the signed body, retrying with exponential backoff.

Synchronous, for the worker's webhook queue; `attempt` is one try (for a Celery task that
schedules its own retries), `deliver` tries up to KENNEL_WEBHOOK_MAX_ATTEMPTS times in a row.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx

from jobs.webhooks.metrics import WEBHOOK_ATTEMPTS, WEBHOOK_DELIVERIES
from jobs.webhooks.settings import WebhookSettings
from jobs.webhooks.signing import Signer, new_message_id
from jobs.webhooks.targets import Resolver, WebhookNotAllowed, check_url, resolve

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    REFUSED = "refused"


@dataclass(frozen=True)
class Delivery:
    url: str
    body: bytes
    message_id: str

    @classmethod
    def of(cls, url: str, body: bytes) -> Delivery:
        return cls(url, body, new_message_id())


def backoff_s(attempt: int, settings: WebhookSettings, jitter: float = 0.1) -> float:
    """The wait after failed attempt `attempt` (1-based): doubling, capped, +-10% jitter."""
    base = min(settings.backoff_s * 2.0 ** (attempt - 1), settings.backoff_max_s)
    return base * random.uniform(1 - jitter, 1 + jitter)


def attempt(delivery: Delivery, client: httpx.Client, signer: Signer | None) -> bool:
    """One POST; True on a 2xx answer. Network errors and other statuses are False."""
    headers = {"Content-Type": "application/json", "User-Agent": "kennel-webhooks"}
    if signer is not None:
        headers |= signer.headers(delivery.message_id, int(time.time()), delivery.body)
    else:
        headers["webhook-id"] = delivery.message_id
    try:
        response = client.post(delivery.url, content=delivery.body, headers=headers)
    except httpx.HTTPError as exc:
        WEBHOOK_ATTEMPTS.labels("network_error").inc()
        log.debug("webhook %s to %s: %s", delivery.message_id, delivery.url, exc)
        return False
    ok = response.is_success
    WEBHOOK_ATTEMPTS.labels("ok" if ok else "http_error").inc()
    return ok


def deliver(
    delivery: Delivery,
    settings: WebhookSettings,
    client: httpx.Client,
    sleep: Callable[[float], None] = time.sleep,
    resolver: Resolver = resolve,
) -> Outcome:
    """Try until a 2xx answer or the last attempt; count the outcome once."""
    signer = Signer(settings.secret.get_secret_value()) if settings.secret else None
    for number in range(1, settings.max_attempts + 1):
        try:
            check_url(delivery.url, settings.allow_private, resolver)
        except WebhookNotAllowed as exc:
            log.warning("webhook %s refused: %s", delivery.message_id, exc.message)
            WEBHOOK_DELIVERIES.labels(Outcome.REFUSED).inc()
            return Outcome.REFUSED
        if attempt(delivery, client, signer):
            WEBHOOK_DELIVERIES.labels(Outcome.DELIVERED).inc()
            return Outcome.DELIVERED
        if number < settings.max_attempts:
            sleep(backoff_s(number, settings))
    log.warning("webhook %s to %s failed %d times", delivery.message_id, delivery.url, number)
    WEBHOOK_DELIVERIES.labels(Outcome.FAILED).inc()
    return Outcome.FAILED


def http_client(settings: WebhookSettings) -> httpx.Client:
    """No redirects (a redirect could lead to an address the URL check refused)."""
    return httpx.Client(timeout=settings.timeout_s, follow_redirects=False)
