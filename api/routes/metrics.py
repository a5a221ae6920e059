"""GET /metrics: Prometheus text format."""

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.schemas import PROMETHEUS_TEXT

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response, responses=PROMETHEUS_TEXT)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
