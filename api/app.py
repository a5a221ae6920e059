"""create_app: the FastAPI application, connected to the job queue in its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.errors import install_error_handlers
from api.keyring import KeyRing
from api.limits import BodyLimits
from api.metrics import HttpMetrics, register_queue_depth, unregister_queue_depth
from api.routes import health, jobs, metrics, models, page, predict, status
from api.settings import ApiSettings
from jobs.client import JobClient


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.keys = None if settings.keys is None else KeyRing.load(settings.keys)
        app.state.jobs = JobClient.connect(settings.queue, name="kennel-api")
        queue_depth = register_queue_depth(settings.queue)
        yield
        unregister_queue_depth(queue_depth)
        await app.state.jobs.close()

    app = FastAPI(
        title="kennel",
        description="Queue-backed image classification: submit an image, get its class.",
        version="0.1.0",
        lifespan=lifespan,
    )
    routers = (jobs, predict, models, status, health, metrics, page)
    for module in routers:
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=page.STATIC), name="static")
    install_error_handlers(app)
    app.add_middleware(
        BodyLimits,
        max_body_bytes=settings.queue.max_upload_bytes,
        body_timeout_s=settings.body_timeout_s,
    )
    app.add_middleware(HttpMetrics)  # outermost: counts every answer, 413s from the limit too
    return app
