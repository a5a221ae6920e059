"""POST /jobs queues an image; GET /jobs/{id} reads the job (its owner's, with API keys), or
waits for it to end."""

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from api.auth import Caller, caller, owner_of, visible, within_rate
from api.dependencies import Form_, Jobs
from api.prefer import applied, wait_preference
from api.schemas import READ_ERRORS, SUBMIT_ERRORS
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
        200: {"model": Job, "description": "Ended within `Prefer: wait`."},
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
) -> Response:
    priority = form.priority or Priority.BATCH
    job = await jobs.submit(form.data, form.model, form.top_k, "api", owner_of(client), priority)
    headers = {"Location": f"/jobs/{job.id}"}
    wait_s = wait_preference(prefer)
    if wait_s is None:
        return Response(job.model_dump_json(), 202, headers, media_type=JSON)
    raw = await jobs.wait_raw(job.id, wait_s) or job.model_dump_json().encode()
    status = 200 if has_ended(raw) else 202
    return Response(raw, status, {**headers, **applied(wait_s)}, media_type=JSON)


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
    if raw is None or not visible(raw, client):
        raise JobNotFound(f"No job {job_id!r} (unknown, or expired).")
    return Response(raw, media_type=JSON)
