"""API errors and the ONE place they become responses: {"error": {"code", "message"}}."""

from __future__ import annotations

import logging

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
    ErrorCode.UNKNOWN_MODEL: 422,
    ErrorCode.INVALID_REQUEST: 422,
    ErrorCode.JOB_NOT_FOUND: 404,
    ErrorCode.QUEUE_UNAVAILABLE: 503,
    ErrorCode.NO_MODELS: 503,
    ErrorCode.DECODE_FAILED: 422,
    ErrorCode.IMAGE_EXPIRED: 503,
    ErrorCode.INFERENCE_FAILED: 500,
    ErrorCode.POISON: 500,
}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(JobsError)
    async def known(_: Request, exc: JobsError) -> JSONResponse:
        return error_response(STATUS.get(exc.code, 500), exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return error_response(422, ErrorCode.INVALID_REQUEST, problems)

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, "http_error", str(exc.detail))
