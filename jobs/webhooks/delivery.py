"""Delivering one webhook try: check the URL, POST the signed body, say what comes next.

Synchronous, for the deliverer's Celery threads (`python -m worker.webhooks`): `deliver_once`
makes one try and counts its outcome; the caller schedules the next try (`WebhookProtocol`).
"""

from __future__ import annotations

import logging
import random
import time
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
    RETRIED = "retried"  # this try failed; another is scheduled
    GAVE_UP = "gave_up"  # the last try (KENNEL_WEBHOOK_MAX_ATTEMPTS) failed
    REFUSED = "refused"  # the URL now resolves to an address kennel does not call


@dataclass(frozen=True)
class Delivery:
    """One try of a delivery: `message_id` (the `webhook-id`) is the same on every try."""

    url: str
    body: bytes
    message_id: str
    attempt: int = 1

    @classmethod
    def of(cls, url: str, body: bytes) -> Delivery:
        return cls(url, body, new_message_id())


def count_from_zero() -> None:
    """Every outcome shows as 0 before the first delivery (dashboards see the series)."""
    for outcome in Outcome:
        WEBHOOK_DELIVERIES.labels(outcome)


def backoff_s(attempt: int, settings: WebhookSettings, jitter: float = 0.1) -> float:
    """The wait after failed attempt `attempt` (1-based): doubling, capped, +-10% jitter."""
    base = min(settings.backoff_s * 2.0 ** (attempt - 1), settings.backoff_max_s)
    return base * random.uniform(1 - jitter, 1 + jitter)


def signer_of(settings: WebhookSettings) -> Signer | None:
    """The signer for KENNEL_WEBHOOK_SECRET (InvalidSecret if it is malformed); None if unset."""
    return Signer(settings.secret.get_secret_value()) if settings.secret else None


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


def deliver_once(
    delivery: Delivery,
    settings: WebhookSettings,
    client: httpx.Client,
    signer: Signer | None,
    resolver: Resolver = resolve,
) -> Outcome:
    """Try once; RETRIED means the caller schedules attempt + 1 after `backoff_s`."""
    outcome = _try(delivery, settings, client, signer, resolver)
    WEBHOOK_DELIVERIES.labels(outcome).inc()
    return outcome


def _try(
    delivery: Delivery,
    settings: WebhookSettings,
    client: httpx.Client,
    signer: Signer | None,
    resolver: Resolver,
) -> Outcome:
    try:
        check_url(delivery.url, settings.allow_private, resolver)
    except WebhookNotAllowed as exc:
        log.warning("webhook %s refused: %s", delivery.message_id, exc.message)
        return Outcome.REFUSED
    if attempt(delivery, client, signer):
        return Outcome.DELIVERED
    if delivery.attempt >= settings.max_attempts:
        log.warning(
            "webhook %s to %s failed %d times; given up",
            delivery.message_id,
            delivery.url,
            delivery.attempt,
        )
        return Outcome.GAVE_UP
    return Outcome.RETRIED


def http_client(settings: WebhookSettings) -> httpx.Client:
    """No redirects (a redirect could lead to an address the URL check refused)."""
    return httpx.Client(timeout=settings.timeout_s, follow_redirects=False)
