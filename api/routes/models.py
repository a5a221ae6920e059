"""GET /models: the models workers serve, with their labels."""

from fastapi import APIRouter

from api.dependencies import Jobs, Settings
from api.schemas import ModelsResponse, errors

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=ModelsResponse, responses=errors(503))
async def list_models(jobs: Jobs, settings: Settings) -> ModelsResponse:
    return ModelsResponse(models=await jobs.models(), default=settings.default_model)
