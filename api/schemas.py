"""What the API reads from forms and writes back, beyond the shared job contract."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from jobs.contract import Job, ModelInfo, Prediction, Priority, Webhook


@dataclass(frozen=True)
class Submission:
    data: bytes
    model: str
    top_k: int
    priority: Priority | None = None  # None: the route's default (interactive for /predict)
    webhook: Webhook | None = None
    deadline_s: float | None = None


class PredictResponse(BaseModel):
    id: str
    model: str
    predictions: list[Prediction]
    batch_size: int
    inference_ms: float

    @classmethod
    def from_job(cls, job: Job) -> PredictResponse:
        assert job.result is not None
        return cls(
            id=job.id,
            model=job.model,
            predictions=job.result.predictions,
            batch_size=job.result.batch_size,
            inference_ms=job.result.inference_ms,
        )


class ModelsResponse(BaseModel):
    models: list[ModelInfo]
    default: str = Field(description="The model a submission without `model` goes to.")


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


ERROR_DESCRIPTIONS = {
    401: "No API key sent, where KENNEL_API_KEYS is set: `unauthorized`.",
    403: "An API key kennel does not know: `forbidden`.",
    429: "Over this client's rate per minute (`rate_limited`), too many jobs or image bytes "
    "waiting (`queue_full`), or a deadline shorter than the expected wait "
    "(`deadline_unreachable`); `Retry-After` says when to try again.",
    404: "Not found: `job_not_found`.",
    409: "The job had ended already (`job_already_ended`), or, from /predict, it was canceled "
    "(`canceled`).",
    504: "From /predict: the job was not started before its deadline (`deadline_exceeded`).",
    408: "The upload (headers or body) took too long: `upload_too_slow`.",
    413: "Too large: `file_too_large`, `too_many_pixels`.",
    415: "Not an image kennel reads: `not_an_image`.",
    422: "Invalid: `invalid_request`, `empty_file`, `bad_aspect_ratio`, `unknown_model`, "
    "`webhook_not_allowed` (a webhook URL to a private, loopback or link-local address), "
    "`idempotency_key_reused`; from /predict also `decode_failed`.",
    500: "The model failed on this image's batch: `inference_failed`.",
    503: "Redis unreachable (`queue_unavailable`), no worker serves (`no_models`), or, from "
    "/predict, the image expired before a worker took it (`image_expired`).",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for the error statuses a route can answer."""
    return {
        status: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[status]}
        for status in statuses
    }


SUBMIT_ERRORS = errors(401, 403, 408, 413, 415, 422, 429, 503)
READ_ERRORS = errors(401, 403, 404, 503)
CANCEL_ERRORS = errors(401, 403, 404, 409, 503)
EVENTS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: one event per state change, named after the state, "
        "its data the job; the stream ends after the final state.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **READ_ERRORS,
}
PREDICT_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": Job, "description": "Not finished within the wait: the job, to poll."},
    **errors(401, 403, 408, 409, 413, 415, 422, 429, 500, 503, 504),
}
NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "Not ready: Redis unreachable or no worker serving.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"status": {"type": "string"}, "reason": {"type": "string"}},
                    "required": ["status", "reason"],
                }
            }
        },
    }
}
PROMETHEUS_TEXT: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Prometheus text exposition format.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}
