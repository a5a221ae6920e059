"""POST /predict: queue the image and wait for the answer, within a bounded wait."""

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.auth import Caller, caller, owner_of, within_rate
from api.dependencies import Form_, Jobs, Settings
from api.errors import error_response
from api.schemas import PREDICT_RESPONSES, PredictResponse
from jobs.contract import ErrorCode, JobStatus

router = APIRouter(tags=["predict"], dependencies=[Depends(caller)])

FAILED_STATUS = {
    ErrorCode.DECODE_FAILED: 422,
    ErrorCode.UNKNOWN_MODEL: 422,
    ErrorCode.IMAGE_EXPIRED: 503,
}


@router.post(
    "/predict",
    response_model=PredictResponse,
    responses=PREDICT_RESPONSES,
    dependencies=[Depends(within_rate)],
)
async def predict(
    form: Form_, jobs: Jobs, settings: Settings, client: Caller
) -> PredictResponse | JSONResponse:
    job = await jobs.submit(form.data, form.model, form.top_k, "api", owner=owner_of(client))
    finished = await jobs.wait(job.id, settings.predict_timeout_s) or job
    if finished.status == JobStatus.SUCCEEDED:
        return PredictResponse.from_job(finished)
    if finished.status == JobStatus.FAILED and finished.error is not None:
        status = FAILED_STATUS.get(finished.error.code, 500)
        return error_response(
            status, finished.error.code, f"Job {job.id}: {finished.error.message}"
        )
    return JSONResponse(
        finished.model_dump(mode="json"), status_code=202, headers={"Location": f"/jobs/{job.id}"}
    )
