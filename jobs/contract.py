"""The typed job contract: what crosses a process boundary between clients and workers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, Field

TASK_NAME = "kennel.classify"
QUEUE_NAME = "kennel"  # interactive work; workers always take it first
BATCH_QUEUE_NAME = "kennel.batch"  # batch work; promoted to QUEUE_NAME once it waited too long
# Webhook deliveries: their own task and queue, consumed by `python -m worker.webhooks`.
WEBHOOK_TASK_NAME = "kennel.webhook"
WEBHOOK_QUEUE_NAME = "kennel.webhooks"


class JobStatus(StrEnum):
    """A job's states; jobs.protocol owns the transitions between them."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    EXPIRED = "expired"

    def is_terminal(self) -> bool:
        return self not in (JobStatus.QUEUED, JobStatus.RUNNING)


class Priority(StrEnum):
    """Which queue a job waits in: workers take interactive work first (jobs.protocol)."""

    INTERACTIVE = "interactive"
    BATCH = "batch"


class ErrorCode(StrEnum):
    """Every error a client can see, in an API response or in a failed job."""

    EMPTY_FILE = "empty_file"
    NOT_AN_IMAGE = "not_an_image"
    FILE_TOO_LARGE = "file_too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    BAD_ASPECT_RATIO = "bad_aspect_ratio"
    UNKNOWN_MODEL = "unknown_model"
    INVALID_REQUEST = "invalid_request"
    UPLOAD_TOO_SLOW = "upload_too_slow"
    JOB_NOT_FOUND = "job_not_found"
    QUEUE_UNAVAILABLE = "queue_unavailable"
    NO_MODELS = "no_models"
    DECODE_FAILED = "decode_failed"
    IMAGE_EXPIRED = "image_expired"
    INFERENCE_FAILED = "inference_failed"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    WEBHOOK_NOT_ALLOWED = "webhook_not_allowed"
    JOB_ALREADY_ENDED = "job_already_ended"
    QUEUE_FULL = "queue_full"
    DEADLINE_UNREACHABLE = "deadline_unreachable"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    CANCELED = "canceled"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    POISON = "poison"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Prediction(BaseModel):
    label: str
    score: float


class JobResult(BaseModel):
    predictions: list[Prediction]
    batch_size: int = Field(description="How many images ran in the same session.run as this one.")
    inference_ms: float = Field(description="Wall time of the batch's session.run.")


class JobError(BaseModel):
    code: ErrorCode
    message: str


class WebhookEvent(StrEnum):
    """When a job's webhook is called: a worker starts it, or it ends (any terminal state)."""

    RUNNING = "running"
    COMPLETED = "completed"


class Webhook(BaseModel):
    url: str = Field(description="Where kennel POSTs the job's JSON, signed (Standard Webhooks).")
    events: list[WebhookEvent] = Field(min_length=1)


class Job(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    status: JobStatus = JobStatus.QUEUED
    model: str
    top_k: int
    source: str = Field(description="Who submitted it: api or bot.")
    owner: str | None = Field(
        None, description="The API client (KENNEL_API_KEYS) that submitted it; only it reads it."
    )
    priority: Priority = Field(
        Priority.INTERACTIVE, description="interactive work is taken before batch work."
    )
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = Field(
        None, description="When the job's record disappears (submission + KENNEL_JOB_TTL_S)."
    )
    deadline_at: datetime | None = Field(
        None, description="Not started by then, the job never runs and ends `expired`."
    )
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = Field(
        0, description="How many times a worker started it (more after redelivery)."
    )
    worker: str | None = Field(None, description="The worker running it, while it runs.")
    result: JobResult | None = None
    error: JobError | None = None
    webhook: Webhook | None = Field(None, description="Called at the events it names.")
    position: int | None = Field(
        None,
        description="While queued: how many jobs for its model wait before it (0: next). "
        "Computed when read, not stored.",
    )
    eta_s: float | None = Field(
        None,
        description="While queued: seconds until it is expected to end, from the recent "
        "throughput of its model's workers; null when unknown (nothing ended recently).",
    )


# Computed when a queued job is read (`JobClient.get_raw`); never in the stored record.
READ_TIME_FIELDS = {"position", "eta_s"}


class ModelInfo(BaseModel):
    """What a worker announces about a model it serves."""

    name: str
    labels: list[str]
    description: str = ""
