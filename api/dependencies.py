"""FastAPI dependencies: the job client of this process and the submission form."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, File, Form, Request, UploadFile

from api.errors import InvalidRequest
from api.schemas import Submission
from api.settings import ApiSettings
from jobs.client import JobClient
from jobs.contract import Priority

FIELDS = ("image", "model", "top_k", "priority")
PLAIN_INTEGER = re.compile(r"[0-9]+")
MAX_MODEL_CHARS = 100


def job_client(request: Request) -> JobClient:
    client: JobClient = request.app.state.jobs
    return client


def api_settings(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


async def submission(
    request: Request,
    settings: Annotated[ApiSettings, Depends(api_settings)],
    image: Annotated[UploadFile, File(description="The image: JPEG, PNG, WebP, GIF, BMP or TIFF.")],
    model: Annotated[
        str | None,
        Form(max_length=MAX_MODEL_CHARS, description="Model name; default: imagewoof."),
    ] = None,
    top_k: Annotated[
        int, Form(ge=1, le=1000, description="How many predictions: a plain integer.")
    ] = 5,
    priority: Annotated[
        Priority | None,
        Form(
            description="interactive (default for /predict) runs before batch (default for "
            "POST /jobs); batch work waits at most KENNEL_BATCH_PROMOTE_AFTER_S behind it."
        ),
    ] = None,
) -> Submission:
    await check_form(request)
    data = await image.read()
    return Submission(data, model or settings.default_model, top_k, priority)


async def check_form(request: Request) -> None:
    """What the typed parameters above let through: a field given twice (FastAPI keeps the
    last), and a top_k that is not written as a plain integer ('', ' 7', '5.0')."""
    form = await request.form()  # already parsed for the parameters: no second read
    for name in FIELDS:
        if len(form.getlist(name)) > 1:
            raise InvalidRequest(f"{name}: give it once; the form has {len(form.getlist(name))}.")
    raw_top_k = form.get("top_k")
    if raw_top_k is not None and not (
        isinstance(raw_top_k, str) and PLAIN_INTEGER.fullmatch(raw_top_k)
    ):
        raise InvalidRequest("top_k: give a plain integer from 1 to 1000, such as 5.")


Jobs = Annotated[JobClient, Depends(job_client)]
Settings = Annotated[ApiSettings, Depends(api_settings)]
Form_ = Annotated[Submission, Depends(submission)]
