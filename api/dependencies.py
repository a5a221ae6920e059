"""FastAPI dependencies: the job client of this process and the submission form."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, File, Form, Request, UploadFile

from api.schemas import Submission
from api.settings import ApiSettings
from jobs.client import JobClient


def job_client(request: Request) -> JobClient:
    client: JobClient = request.app.state.jobs
    return client


def api_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def submission(
    settings: Annotated[ApiSettings, Depends(api_settings)],
    image: Annotated[UploadFile, File(description="The image: JPEG, PNG, WebP, GIF, BMP or TIFF.")],
    model: Annotated[str | None, Form(description="Model name; default: imagewoof.")] = None,
    top_k: Annotated[int, Form(ge=1, le=1000, description="How many predictions.")] = 5,
) -> Submission:
    return Submission(data=await image.read(), model=model or settings.default_model, top_k=top_k)


Jobs = Annotated[JobClient, Depends(job_client)]
Settings = Annotated[ApiSettings, Depends(api_settings)]
Form_ = Annotated[Submission, Depends(submission)]
