"""The API's own metrics: HTTP requests by route template, and the queue depth on each scrape.

- `HttpMetrics` is a plain ASGI middleware. It labels a request with its route *template*
  (`/jobs/{job_id}`, never `/jobs/3f2a...`), so label values stay bounded; requests that match
  no route are labelled `unmatched`.
- `QueueDepth` is a collector: it asks Redis the queue's length (`jobs.protocol.queue_length`)
  when Prometheus scrapes, so the number is never stale and nothing polls in between.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobs import protocol
from jobs.contract import QUEUE_NAME

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUESTS = Counter(
    "kennel_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "kennel_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route, method = route_template(scope), str(scope["method"])
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(time.perf_counter() - started)


class QueueDepth(Collector):
    """`kennel_queue_depth`: jobs waiting in the queue, read from Redis at scrape time."""

    def __init__(self, redis_url: str) -> None:
        self._redis = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "kennel_queue_depth",
            "Jobs waiting in the queue (not yet taken by a worker).",
            labels=["queue"],
        )
        try:
            gauge.add_metric([QUEUE_NAME], float(protocol.queue_length(self._redis)))
        except (redis.exceptions.RedisError, OSError) as exc:
            log.warning("queue depth unavailable: %s", exc)
            return  # no sample rather than a wrong one; the alert on absent data fires
        yield gauge

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # collected lazily: never query Redis at registration

    def close(self) -> None:
        self._redis.close()


def register_queue_depth(redis_url: str, registry: CollectorRegistry = REGISTRY) -> QueueDepth:
    collector = QueueDepth(redis_url)
    registry.register(collector)
    return collector


def unregister_queue_depth(collector: QueueDepth, registry: CollectorRegistry = REGISTRY) -> None:
    registry.unregister(collector)
    collector.close()
