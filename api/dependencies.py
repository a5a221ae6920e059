"""FastAPI dependencies: the job client of this process and the submission form."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, File, Form, Header, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from api.errors import InvalidRequest
from api.schemas import Submission
from api.settings import ApiSettings
from jobs.admission import MAX_IDEMPOTENCY_KEY_CHARS
from jobs.client import JobClient, Submitted
from jobs.contract import Priority, Webhook, WebhookEvent
from jobs.metrics import JOBS_REJECTED
from jobs.webhooks.settings import WebhookSettings
from jobs.webhooks.targets import MAX_URL_LENGTH, WebhookNotAllowed, check_url

FIELDS = ("image", "model", "top_k", "priority", "webhook", "webhook_events", "deadline_s")
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
    webhook: Annotated[
        str | None,
        Form(
            max_length=MAX_URL_LENGTH,
            description="An http(s) URL kennel POSTs the job's JSON to (signed), at the events "
            "of `webhook_events`.",
        ),
    ] = None,
    webhook_events: Annotated[
        str | None,
        Form(
            max_length=100,
            description="Comma list of `running`, `completed` (any end); default `completed`.",
        ),
    ] = None,
    priority: Annotated[
        Priority | None,
        Form(
            description="interactive (default for /predict) runs before batch (default for "
            "POST /jobs); batch work waits at most KENNEL_BATCH_PROMOTE_AFTER_S behind it."
        ),
    ] = None,
    deadline_s: Annotated[
        float | None,
        Form(
            gt=0,
            allow_inf_nan=False,
            description="Not started within this many seconds, the job ends `expired`. "
            "Default: KENNEL_JOB_DEADLINE_S (none when unset).",
        ),
    ] = None,
    cancel_after: Annotated[
        float | None,
        Header(gt=0, allow_inf_nan=False, description="Seconds: the same as `deadline_s`."),
    ] = None,
) -> Submission:
    await check_form(request)
    if deadline_s is not None and cancel_after is not None:
        raise InvalidRequest("Give the deadline once: the deadline_s field or Cancel-After.")
    return Submission(
        data=await image.read(),
        model=model or settings.default_model,
        top_k=top_k,
        priority=priority,
        webhook=await requested_webhook(webhook, webhook_events, settings.webhook),
        deadline_s=deadline_s if deadline_s is not None else cancel_after,
    )


async def requested_webhook(
    url: str | None, events: str | None, settings: WebhookSettings
) -> Webhook | None:
    """The form's webhook: known events, and a URL kennel may call (422 webhook_not_allowed)."""
    if url is None:
        if events is not None:
            raise InvalidRequest("webhook_events: give a `webhook` URL with it.")
        return None
    names = [name.strip() for name in (events or WebhookEvent.COMPLETED).split(",")]
    known = {event.value for event in WebhookEvent}
    if not set(names) <= known:
        raise InvalidRequest(
            f"webhook_events: a comma list of {', '.join(sorted(known))}; got {events!r}."
        )
    try:  # the URL's host is resolved: blocking, so off the event loop
        await run_in_threadpool(check_url, url, settings.allow_private)
    except WebhookNotAllowed as exc:
        JOBS_REJECTED.labels("api", exc.code.value).inc()  # as JobClient counts its refusals
        raise
    return Webhook(url=url, events=[WebhookEvent(name) for name in dict.fromkeys(names)])


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


async def submit(
    jobs: JobClient,
    form: Submission,
    owner: str | None,
    idempotency_key: str | None,
    default_priority: Priority,
) -> Submitted:
    """Queue the form's job, as POST /jobs and POST /predict do (each with its own default
    priority)."""
    return await jobs.submit(
        form.data,
        form.model,
        form.top_k,
        "api",
        owner,
        idempotency_key,
        form.deadline_s,
        webhook=form.webhook,
        priority=form.priority or default_priority,
    )


IdempotencyKey = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=MAX_IDEMPOTENCY_KEY_CHARS,
        description="The same key (per API client) within KENNEL_IDEMPOTENCY_TTL_S answers "
        "the job it made (200) and stores nothing; with another image, 422.",
    ),
]
Jobs = Annotated[JobClient, Depends(job_client)]
Settings = Annotated[ApiSettings, Depends(api_settings)]
Form_ = Annotated[Submission, Depends(submission)]
