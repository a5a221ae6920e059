"""What the client raises: one root, a class per API error code, each carrying that code."""

from __future__ import annotations

import math

import httpx

from jobs.contract import Job


class KennelError(Exception):
    """An error answer from kennel: `code` is the API's error code, `status` the HTTP status."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class BadInput(KennelError):
    """The image or a form field was refused (413, 415, 422)."""


class Unauthorized(KennelError):
    """No API key was sent, and this kennel needs one (KENNEL_API_KEY)."""


class Forbidden(KennelError):
    """The API key is not known to this kennel."""


class JobNotFound(KennelError):
    """No such job: unknown, expired, or another client's."""


class JobAlreadyEnded(KennelError):
    """The job ended before it could be canceled."""


class RateLimited(KennelError):
    """Too many requests: try again after `retry_after_s`."""

    def __init__(self, code: str, message: str, status: int, retry_after_s: float | None) -> None:
        super().__init__(code, message, status)
        self.retry_after_s = retry_after_s


class Unavailable(KennelError):
    """kennel cannot take the job now (its queue is down, or no worker serves)."""


class JobFailed(KennelError):
    """The job ended without predictions; `job.error` says why."""

    def __init__(self, job: Job) -> None:
        code, message = (job.error.code, job.error.message) if job.error else (job.status, "")
        super().__init__(code, f"job {job.id} {job.status}: {message}")
        self.job = job


class WaitTimedOut(KennelError):
    """The job had not ended when the wait ran out; `job` is how it stood."""

    def __init__(self, job: Job, timeout_s: float) -> None:
        super().__init__("wait_timed_out", f"job {job.id} still {job.status} after {timeout_s}s")
        self.job = job


BY_STATUS: dict[int, type[KennelError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: JobNotFound,
    409: JobAlreadyEnded,
    413: BadInput,
    415: BadInput,
    422: BadInput,
    503: Unavailable,
}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None


def error_from(response: httpx.Response) -> KennelError:
    """The typed error for a non-2xx answer, from its `{"error": {"code", "message"}}` body."""
    try:
        body = response.json()["error"]
        code, message = str(body["code"]), str(body["message"])
    except (ValueError, KeyError, TypeError):
        code, message = (
            f"http_{response.status_code}",
            response.text[:200] or response.reason_phrase,
        )
    if response.status_code == 429:
        return RateLimited(code, message, 429, _retry_after(response))
    kind = BY_STATUS.get(response.status_code, KennelError)
    return kind(code, message, response.status_code)
