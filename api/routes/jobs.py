"""POST /jobs queues an image; GET /jobs/{id} reads the job."""

from typing import Any

from fastapi import APIRouter, Response

from api.dependencies import Form_, Jobs
from api.errors import JobNotFound
from api.schemas import ErrorResponse
from jobs.contract import Job

router = APIRouter(prefix="/jobs", tags=["jobs"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (413, 415, 422, 503)
}


@router.post("", status_code=202, response_model=Job, responses=ERRORS)
async def submit_job(form: Form_, jobs: Jobs, response: Response) -> Job:
    job = await jobs.submit(form.data, form.model, form.top_k, source="api")
    response.headers["Location"] = f"/jobs/{job.id}"
    return job


@router.get("/{job_id}", response_model=Job, responses={404: {"model": ErrorResponse}})
async def read_job(job_id: str, jobs: Jobs) -> Job:
    job = await jobs.get(job_id)
    if job is None:
        raise JobNotFound(f"No job {job_id!r} (unknown, or expired).")
    return job
