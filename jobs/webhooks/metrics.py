"""Webhook counters: each delivery try's outcome and each attempt's result (bounded labels)."""

from prometheus_client import Counter, Gauge

WEBHOOK_DELIVERIES = Counter(
    "kennel_webhook_deliveries_total",
    "Webhook delivery tries by outcome: delivered, retried (failed; another try is scheduled), "
    "gave_up (the last try failed), refused (the URL resolved to an address kennel does not "
    "call).",
    ["outcome"],
)
WEBHOOK_RETRIES_WAITING = Gauge(
    "kennel_webhook_retries_waiting",
    "Deliveries waiting for their next try (kennel:webhooks:due), as the deliverer last saw.",
)
WEBHOOK_ATTEMPTS = Counter(
    "kennel_webhook_attempts_total",
    "Webhook HTTP attempts by result: ok (2xx), http_error (other status), network_error.",
    ["result"],
)
