"""/healthz (the process is alive) and /readyz (Redis answers and a worker serves).

/readyz also says whether Redis keeps accepted jobs across a restart (`redis.durable`).
"""

import redis.asyncio as aioredis
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from api.dependencies import Jobs
from api.schemas import NOT_READY
from jobs.durability import Durability, judge
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
    durability = await redis_durability(jobs.redis)
    return JSONResponse({"status": "ready", "workers": workers, "redis": durability.as_json()})


async def redis_durability(client: aioredis.Redis) -> Durability:
    try:
        appendonly = await client.config_get("appendonly")
        save = await client.config_get("save")
    except RedisError:  # CONFIG refused or renamed: unknown, not an outage
        return judge(None)
    return judge({**appendonly, **save})
