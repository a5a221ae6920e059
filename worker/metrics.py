"""A worker process's metrics, served on its own port (KENNEL_WORKER_METRICS_PORT).

One worker is one process (Celery's threads pool), so the default registry is the whole truth
about it and `prometheus_client.start_http_server` serves it; no multiprocess mode is needed.
Label values are bounded: a model name, a job status, an error code; never a job id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

from jobs import metrics as jobs_metrics
from jobs.contract import Job

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)

WORKER_UP = Gauge("kennel_worker_up", "1 while this worker process serves; sum() counts workers.")
MODEL_LOAD = Gauge(
    "kennel_model_load_seconds",
    "Time this worker took to load the model's ONNX session.",
    ["model"],
)
JOBS_FINISHED = Counter(
    "kennel_jobs_finished_total",
    "Jobs a worker ended, by model, status and error code (code is `none` when it succeeded).",
    ["model", "status", "code"],
)
JOBS_SKIPPED = Counter(
    "kennel_jobs_skipped_total",
    "Deliveries a worker acknowledged without storing anything: the job had already ended "
    "(canceled, expired, a duplicate's) when it started (`when=start`, nothing was run) or "
    "when its result came (`when=finish`, the result was dropped).",
    ["model", "when"],
)
JOBS_EXPIRED = Counter(
    "kennel_jobs_expired_total",
    "Jobs that ended `expired` (not started by their deadline), by model and by the step "
    "that found them overdue: `start` (a worker took it) or `sweep` (the heartbeat's).",
    ["model", "step"],
)
QUEUE_WAIT = Histogram(
    "kennel_job_queue_wait_seconds",
    "From submission (created_at) to a worker starting the job (started_at).",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
END_TO_END = Histogram(
    "kennel_job_duration_seconds",
    "From submission (created_at) to the job's end (finished_at), by model and status.",
    ["model", "status"],
    buckets=LATENCY_BUCKETS,
)
PREPROCESS = Histogram(
    "kennel_preprocess_seconds",
    "Decoding, resizing and normalising one image.",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
INFERENCE = Histogram(
    "kennel_inference_seconds",
    "Wall time of one batch's session.run.",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
BATCH_SIZE = Histogram(
    "kennel_batch_size", "Images in one session.run.", ["model"], buckets=BATCH_BUCKETS
)
IMAGES_INFERRED = Counter(
    "kennel_images_inferred_total", "Images that went through session.run.", ["model"]
)
BATCHES = Counter("kennel_batches_total", "Batches (session.run calls) executed.", ["model"])
MESSAGE_JOBS = Histogram(
    "kennel_message_jobs",
    "Jobs named by one queue message a worker took (submissions an API gathered together).",
    buckets=BATCH_BUCKETS,
)


def batch_observer(model: str) -> Callable[[int, float], None]:
    """The DynamicBatcher's `on_batch` hook for one model."""
    inference, batch_size = INFERENCE.labels(model), BATCH_SIZE.labels(model)
    images, batches = IMAGES_INFERRED.labels(model), BATCHES.labels(model)

    def observe(size: int, seconds: float) -> None:
        inference.observe(seconds)
        batch_size.observe(size)
        images.inc(size)
        batches.inc()

    return observe


def job_started(job: Job) -> None:
    if job.started_at is not None:
        QUEUE_WAIT.labels(job.model).observe((job.started_at - job.created_at).total_seconds())


def model_served(model: str) -> None:
    """Start the model's lifecycle counters at 0, so a rate reads 0 before the first event."""
    for step in ("start", "sweep"):
        JOBS_EXPIRED.labels(model, step)
    for when in ("start", "finish"):
        JOBS_SKIPPED.labels(model, when)


def job_skipped(when: str, job: Job) -> None:
    JOBS_SKIPPED.labels(job.model, when).inc()


def job_expired(job: Job, step: str) -> None:
    JOBS_EXPIRED.labels(job.model, step).inc()


def job_finished(job: Job) -> None:
    code = job.error.code.value if job.error is not None else "none"
    JOBS_FINISHED.labels(job.model, job.status.value, code).inc()
    if job.finished_at is not None:
        seconds = (job.finished_at - job.created_at).total_seconds()
        END_TO_END.labels(job.model, job.status.value).observe(seconds)


def serve(port: int, host: str) -> None:
    """Expose this process's metrics over HTTP; port 0 leaves them unserved."""
    if jobs_metrics.serve(port, host, "KENNEL_WORKER_METRICS_PORT"):
        WORKER_UP.set(1)
