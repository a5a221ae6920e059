"""POST /jobs queues an image; GET /jobs/{id} reads the job (its owner's, with API keys), or
waits for it to end; GET /jobs/{id}/events streams its state changes; POST /jobs/{id}/cancel
cancels it."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import StreamingResponse

from api import sse
from api.auth import Caller, caller, owner_of, visible, within_rate
from api.dependencies import Form_, IdempotencyKey, Jobs, submit
from api.keyring import ApiClient
from api.prefer import applied, wait_preference
from api.schemas import CANCEL_ERRORS, EVENTS_RESPONSES, READ_ERRORS, SUBMIT_ERRORS
from jobs.client import MAX_WAIT_S, has_ended
from jobs.contract import Job, Priority
from jobs.errors import JobNotFound

router = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=[Depends(caller)])
JSON = "application/json"


@router.post(
    "",
    status_code=202,
    response_model=Job,
    responses={
        **SUBMIT_ERRORS,
        200: {
            "model": Job,
            "description": "Ended within `Prefer: wait`, or the job this Idempotency-Key made.",
        },
    },
    dependencies=[Depends(within_rate)],
)
async def submit_job(
    form: Form_,
    jobs: Jobs,
    client: Caller,
    prefer: Annotated[
        str | None, Header(description="`wait=S` (RFC 7240): answer 200 if it ends within S s.")
    ] = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    submitted = await submit(jobs, form, owner_of(client), idempotency_key, Priority.BATCH)
    headers = {"Location": f"/jobs/{submitted.job.id}"}
    wait_s = wait_preference(prefer)
    raw = submitted.record
    if wait_s is not None:
        headers |= applied(wait_s)
        raw = await jobs.wait_raw(submitted.job.id, wait_s) or raw
    status = 200 if submitted.existing or has_ended(raw) else 202
    return Response(raw, status, headers, media_type=JSON)


@router.get("/{job_id}", response_model=Job, responses=READ_ERRORS)
async def read_job(
    job_id: str,
    jobs: Jobs,
    client: Caller,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT_S, description="Wait up to this many seconds to end.")
    ] = 0,
) -> Response:
    raw = await (jobs.wait_raw(job_id, wait) if wait > 0 else jobs.get_raw(job_id))
    return Response(found(job_id, raw, client), media_type=JSON)


@router.post("/{job_id}/cancel", response_model=Job, responses=CANCEL_ERRORS)
async def cancel_job(job_id: str, jobs: Jobs, client: Caller) -> Response:
    found(job_id, await jobs.get_raw(job_id), client)  # the owner check, as GET
    return Response(await jobs.cancel(job_id), media_type=JSON)


@router.get("/{job_id}/events", response_class=StreamingResponse, responses=EVENTS_RESPONSES)
async def job_events(job_id: str, jobs: Jobs, client: Caller) -> StreamingResponse:
    updates = jobs.follow(job_id, sse.KEEPALIVE_S)
    first = await anext(updates, None)
    if first is None or not visible(first, client):
        await updates.aclose()
    first = found(job_id, first, client)
    return StreamingResponse(
        sse.stream(first, updates), media_type="text/event-stream", headers=sse.HEADERS
    )


def found(job_id: str, raw: bytes | None, client: ApiClient | None) -> bytes:
    """The record, if this caller may see it; another client's job reads as unknown."""
    if raw is None or not visible(raw, client):
        raise JobNotFound(f"No job {job_id!r} (unknown, or expired).")
    return raw
