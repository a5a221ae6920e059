"""POST /predict: queue the image and wait for the answer, within a bounded wait."""

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response

from api.auth import Caller, caller, owner_of, within_rate
from api.dependencies import Form_, IdempotencyKey, Jobs, Settings, submit
from api.errors import STATUS, error_response
from api.schemas import PREDICT_RESPONSES, PredictResponse
from jobs.contract import JobStatus, Priority

router = APIRouter(tags=["predict"], dependencies=[Depends(caller)])


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=PREDICT_RESPONSES,
    dependencies=[Depends(within_rate)],
)
async def predict(
    form: Form_,
    jobs: Jobs,
    settings: Settings,
    client: Caller,
    idempotency_key: IdempotencyKey = None,
) -> PredictResponse | Response:
    submitted = await submit(jobs, form, owner_of(client), idempotency_key, Priority.INTERACTIVE)
    job = submitted.job
    finished = await jobs.wait(job.id, settings.predict_timeout_s) or job
    if finished.status == JobStatus.SUCCEEDED:
        return PredictResponse.from_job(finished)
    if finished.status.is_terminal() and finished.error is not None:
        code, message = finished.error.code, f"Job {job.id}: {finished.error.message}"
        return error_response(STATUS.get(code, 500), code, message)
    return JSONResponse(
        finished.model_dump(mode="json"), status_code=202, headers={"Location": f"/jobs/{job.id}"}
    )
