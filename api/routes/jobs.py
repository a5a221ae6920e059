"""POST /jobs queues an image; GET /jobs/{id} reads the job, or waits for it to end."""

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from api.dependencies import Form_, Jobs
from api.prefer import applied, wait_preference
from api.schemas import ErrorResponse
from jobs.client import MAX_WAIT_S, has_ended
from jobs.contract import Job
from jobs.errors import JobNotFound

router = APIRouter(prefix="/jobs", tags=["jobs"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (413, 415, 422, 503)
}
JSON = "application/json"


@router.post(
    "",
    status_code=202,
    response_model=Job,
    responses={**ERRORS, 200: {"model": Job, "description": "Ended within `Prefer: wait`."}},
)
async def submit_job(
    form: Form_,
    jobs: Jobs,
    prefer: Annotated[
        str | None, Header(description="`wait=S` (RFC 7240): answer 200 if it ends within S s.")
    ] = None,
) -> Response:
    job = await jobs.submit(form.data, form.model, form.top_k, source="api")
    headers = {"Location": f"/jobs/{job.id}"}
    wait_s = wait_preference(prefer)
    if wait_s is None:
        return Response(job.model_dump_json(), 202, headers, media_type=JSON)
    raw = await jobs.wait_raw(job.id, wait_s) or job.model_dump_json().encode()
    status = 200 if has_ended(raw) else 202
    return Response(raw, status, {**headers, **applied(wait_s)}, media_type=JSON)


@router.get("/{job_id}", response_model=Job, responses={404: {"model": ErrorResponse}})
async def read_job(
    job_id: str,
    jobs: Jobs,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT_S, description="Wait up to this many seconds to end.")
    ] = 0,
) -> Response:
    raw = await (jobs.wait_raw(job_id, wait) if wait > 0 else jobs.get_raw(job_id))
    if raw is None:
        raise JobNotFound(f"No job {job_id!r} (unknown, or expired).")
    return Response(raw, media_type=JSON)
