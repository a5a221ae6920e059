"""POST /jobs queues an image; GET /jobs/{id} reads the job (its owner's, with API keys)."""

from fastapi import APIRouter, Depends, Response

from api.auth import Caller, caller, owner_of, visible, within_rate
from api.dependencies import Form_, Jobs
from api.errors import JobNotFound
from api.schemas import READ_ERRORS, SUBMIT_ERRORS
from jobs.contract import Job

router = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=[Depends(caller)])


@router.post(
    "",
    status_code=202,
    response_model=Job,
    responses=SUBMIT_ERRORS,
    dependencies=[Depends(within_rate)],
)
async def submit_job(form: Form_, jobs: Jobs, client: Caller, response: Response) -> Job:
    job = await jobs.submit(form.data, form.model, form.top_k, "api", owner=owner_of(client))
    response.headers["Location"] = f"/jobs/{job.id}"
    return job


@router.get("/{job_id}", response_model=Job, responses=READ_ERRORS)
async def read_job(job_id: str, jobs: Jobs, client: Caller) -> Job:
    job = visible(await jobs.get(job_id), client)
    if job is None:
        raise JobNotFound(f"No job {job_id!r} (unknown, or expired).")
    return job
