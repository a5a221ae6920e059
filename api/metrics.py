"""The API's own metrics: HTTP requests by route template, and the queue depth on each scrape.

- `HttpMetrics` is a plain ASGI middleware. It labels a request with its route *template*
  (`/jobs/{job_id}`, never `/jobs/3f2a...`), so label values stay bounded; requests that match
  no route are labelled `unmatched`.
- `QueueDepth` is a collector: when Prometheus scrapes, it asks Redis for `LLEN kennel` (the
  Celery list of queued jobs), the queued set (jobs submitted and not started, scored by
  submission time) and the live workers' heartbeats, so the numbers are never stale and nothing
  polls in between. These are the autoscaling signals (docs/deploy.md): queue depth, the oldest
  queued job's age, and the backlog per worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jobs import protocol
from jobs.connection import connect
from jobs.contract import QUEUE_NAME
from jobs.settings import QueueSettings

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


@dataclass(frozen=True)
class QueueReading:
    """What Redis says about the queue at one moment (one pipelined round trip and a scan)."""

    depth: int  # Celery messages waiting in the queue lists (`LLEN kennel` + `kennel.batch`)
    waiting: int  # jobs submitted and not yet started by a worker (the queued set)
    oldest_submitted_at: float | None  # submission time of the oldest of those, Unix seconds
    workers: int  # workers whose heartbeat key is alive
    image_bytes: int = 0  # image bytes held for jobs not ended (KENNEL_MAX_QUEUED_BYTES)


def read_queue(client: redis.Redis) -> QueueReading:
    """Every Redis read behind the autoscaling signals, in one place to re-point if keys move."""
    pipe = client.pipeline(transaction=False)
    pipe.zcard(protocol.QUEUED)
    pipe.zrange(protocol.QUEUED, 0, 0, withscores=True)
    pipe.get(protocol.IMAGE_BYTES)
    for queue in protocol.QUEUES:
        pipe.llen(queue)
    waiting, oldest, image_bytes, *depths = pipe.execute()
    depth = sum(depths)
    workers = sum(1 for _ in client.scan_iter(protocol.WORKER_PATTERN, count=1000))
    return QueueReading(
        depth=int(depth),
        waiting=int(waiting),
        oldest_submitted_at=float(oldest[0][1]) if oldest else None,
        workers=workers,
        image_bytes=int(image_bytes or 0),
    )


def queue_gauges(reading: QueueReading, now: float) -> list[GaugeMetricFamily]:
    """The autoscaling signals (docs/deploy.md) from one reading; pure, so tested without Redis."""
    depth = GaugeMetricFamily(
        "kennel_queue_depth",
        "Queue messages waiting (not yet taken by a worker), of every priority; a message "
        "names one or more jobs.",
        labels=["queue"],
    )
    depth.add_metric([QUEUE_NAME], float(reading.depth))
    age = GaugeMetricFamily(
        "kennel_oldest_queued_age_seconds",
        "Age of the oldest job submitted and not yet started by a worker; 0 when none waits.",
        labels=["queue"],
    )
    oldest = reading.oldest_submitted_at
    age.add_metric([QUEUE_NAME], 0.0 if oldest is None else max(0.0, now - oldest))
    backlog = GaugeMetricFamily(
        "kennel_backlog_per_worker",
        "Jobs submitted and not yet started, divided by the live workers (by at least 1, so "
        "a backlog with no worker reads as the whole backlog).",
        labels=["queue"],
    )
    backlog.add_metric([QUEUE_NAME], reading.waiting / max(1, reading.workers))
    image_bytes = GaugeMetricFamily(
        "kennel_queued_image_bytes",
        "Image bytes held in Redis for jobs waiting or running (KENNEL_MAX_QUEUED_BYTES).",
        labels=["queue"],
    )
    image_bytes.add_metric([QUEUE_NAME], float(reading.image_bytes))
    return [depth, age, backlog, image_bytes]


class QueueDepth(Collector):
    """The queue's gauges (`kennel_queue_depth`, `kennel_oldest_queued_age_seconds`,
    `kennel_backlog_per_worker`, `kennel_queued_image_bytes`), read from Redis at scrape
    time."""

    def __init__(self, settings: QueueSettings) -> None:
        self._redis = connect(settings, socket_connect_timeout=1, socket_timeout=1)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            reading = read_queue(self._redis)
        except (redis.exceptions.RedisError, OSError) as exc:
            log.warning("queue gauges unavailable: %s", exc)
            return  # no sample rather than a wrong one; the alert on absent data fires
        yield from queue_gauges(reading, time.time())

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # collected lazily: never query Redis at registration

    def close(self) -> None:
        self._redis.close()


def register_queue_depth(
    settings: QueueSettings, registry: CollectorRegistry = REGISTRY
) -> QueueDepth:
    collector = QueueDepth(settings)
    registry.register(collector)
    return collector


def unregister_queue_depth(collector: QueueDepth, registry: CollectorRegistry = REGISTRY) -> None:
    registry.unregister(collector)
    collector.close()
