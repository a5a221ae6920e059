"""Webhook counters: each delivery's outcome and each attempt's result (bounded labels)."""

from prometheus_client import Counter

WEBHOOK_DELIVERIES = Counter(
    "kennel_webhook_deliveries_total",
    "Webhook deliveries by outcome: delivered, failed (gave up after the last attempt), "
    "refused (the URL resolved to an address kennel does not call).",
    ["outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "kennel_webhook_attempts_total",
    "Webhook HTTP attempts by result: ok (2xx), http_error (other status), network_error.",
    ["result"],
)
