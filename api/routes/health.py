"""/healthz (the process is alive) and /readyz (Redis answers and a worker serves)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.dependencies import Jobs
from api.schemas import NOT_READY
from jobs.errors import QueueUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses=NOT_READY)
async def readyz(jobs: Jobs) -> JSONResponse:
    try:
        workers = await jobs.workers()
    except QueueUnavailable as exc:
        return JSONResponse({"status": "not ready", "reason": exc.message}, status_code=503)
    if not workers:
        return JSONResponse(
            {"status": "not ready", "reason": "no worker is serving"}, status_code=503
        )
    return JSONResponse({"status": "ready", "workers": workers})
