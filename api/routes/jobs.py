"""POST /jobs queues an image; GET /jobs/{id} reads the job (its owner's, with API keys)."""

from typing import Any

from fastapi import APIRouter, Depends, Response

from api.auth import Caller, caller, owner_of, visible, within_rate
from api.dependencies import Form_, Jobs
from api.errors import JobNotFound
from api.schemas import ErrorResponse
from jobs.contract import Job

router = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=[Depends(caller)])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 413, 415, 422, 429, 503)
}


@router.post(
    "", status_code=202, response_model=Job, responses=ERRORS, dependencies=[Depends(within_rate)]
)
async def submit_job(form: Form_, jobs: Jobs, client: Caller, response: Response) -> Job:
    job = await jobs.submit(form.data, form.model, form.top_k, "api", owner=owner_of(client))
    response.headers["Location"] = f"/jobs/{job.id}"
    return job


@router.get(
    "/{job_id}",
    response_model=Job,
    responses={c: {"model": ErrorResponse} for c in (401, 403, 404)},
)
async def read_job(job_id: str, jobs: Jobs, client: Caller) -> Job:
    job = visible(await jobs.get(job_id), client)
    if job is None:
        raise JobNotFound(f"No job {job_id!r} (unknown, or expired).")
    return job
