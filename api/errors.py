"""API errors and the ONE place they become responses: {"error": {"code", "message"}}."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobs.contract import ErrorCode
from jobs.errors import JobsError

log = logging.getLogger(__name__)

# Every error code's HTTP status: refusals (JobsError) and the codes of failed jobs alike.
STATUS = {
    ErrorCode.EMPTY_FILE: 422,
    ErrorCode.NOT_AN_IMAGE: 415,
    ErrorCode.FILE_TOO_LARGE: 413,
    ErrorCode.TOO_MANY_PIXELS: 413,
    ErrorCode.BAD_ASPECT_RATIO: 422,
    ErrorCode.UPLOAD_TOO_SLOW: 408,
    ErrorCode.UNKNOWN_MODEL: 422,
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.JOB_NOT_FOUND: 404,
    ErrorCode.QUEUE_UNAVAILABLE: 503,
    ErrorCode.NO_MODELS: 503,
    ErrorCode.DECODE_FAILED: 422,
    ErrorCode.IMAGE_EXPIRED: 503,
    ErrorCode.INFERENCE_FAILED: 500,
    ErrorCode.POISON: 500,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.WEBHOOK_NOT_ALLOWED: 422,
    ErrorCode.JOB_ALREADY_ENDED: 409,
    ErrorCode.QUEUE_FULL: 429,
    ErrorCode.DEADLINE_UNREACHABLE: 429,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.CANCELED: 409,
    ErrorCode.DEADLINE_EXCEEDED: 504,
}
# A message quotes what the client sent (a model name, say): never more than this of it.
MAX_MESSAGE_CHARS = 300
# After these the request body may be unread: the connection closes, not waits for the rest.
CLOSES_CONNECTION = {408, 413}


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


class ApiError(Exception):
    code: ErrorCode

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def headers(self) -> dict[str, str]:
        return {}


class Unauthorized(ApiError):
    code = ErrorCode.UNAUTHORIZED

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="kennel"'}


class Forbidden(ApiError):
    code = ErrorCode.FORBIDDEN


class RateLimited(ApiError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return retry_after(self.retry_after_s)


class InvalidRequest(ApiError):
    code = ErrorCode.INVALID_REQUEST


class BodyTooLarge(ApiError):
    code = ErrorCode.FILE_TOO_LARGE


class UploadTooSlow(ApiError):
    code = ErrorCode.UPLOAD_TOO_SLOW


def shortened(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    extra = dict(headers or {})
    if status == 503:
        extra["Retry-After"] = "5"
    if status in CLOSES_CONNECTION:
        extra["Connection"] = "close"
    body = {"error": {"code": code, "message": shortened(message)}}
    return JSONResponse(body, status, headers=extra or None)


def api_error_response(exc: ApiError | JobsError) -> JSONResponse:
    if isinstance(exc, ApiError):
        headers = exc.headers()
    else:
        headers = {} if exc.retry_after_s is None else retry_after(exc.retry_after_s)
    return error_response(STATUS[exc.code], exc.code, exc.message, headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    @app.exception_handler(JobsError)
    async def known(_: Request, exc: ApiError | JobsError) -> JSONResponse:
        return api_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return error_response(422, ErrorCode.INVALID_REQUEST, problems)

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI turns any error while it reads the body into a 400 "error parsing the body";
        # ours (too large, too slow) ride along as its cause.
        if isinstance(exc.__cause__, ApiError):
            return api_error_response(exc.__cause__)
        if exc.status_code == 400:
            return error_response(422, ErrorCode.INVALID_REQUEST, f"Malformed body: {exc.detail}")
        return error_response(exc.status_code, "http_error", str(exc.detail), exc.headers)
