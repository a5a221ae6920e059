"""POST /jobs queues an image; GET /jobs/{id} reads the job."""

from fastapi import APIRouter, Response

from api.dependencies import Form_, Jobs
from api.errors import JobNotFound
from api.schemas import READ_ERRORS, SUBMIT_ERRORS
from jobs.contract import Job

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.post("", status_code=202, response_model=Job, responses=SUBMIT_ERRORS)
async def submit_job(form: Form_, jobs: Jobs, response: Response) -> Job:
    job = await jobs.submit(form.data, form.model, form.top_k, source="api")
    response.headers["Location"] = f"/jobs/{job.id}"
    return job


@router.get("/{job_id}", response_model=Job, responses=READ_ERRORS)
async def read_job(job_id: str, jobs: Jobs) -> Job:
    job = await jobs.get(job_id)
    if job is None:
        raise JobNotFound(f"No job {job_id!r} (unknown, or expired).")
    return job
