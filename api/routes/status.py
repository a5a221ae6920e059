"""GET /status: what the page shows about the system (queue depth, workers up)."""

from fastapi import APIRouter
from pydantic import BaseModel

from api.dependencies import Jobs

router = APIRouter(tags=["health"])


class StatusResponse(BaseModel):
    queue_depth: int
    workers: list[str]


@router.get("/status", response_model=StatusResponse)
async def status(jobs: Jobs) -> StatusResponse:
    return StatusResponse(queue_depth=await jobs.queue_depth(), workers=await jobs.workers())
