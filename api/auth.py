"""Who is calling: API keys (KENNEL_API_KEYS) and each client's rate, as FastAPI dependencies.

With no keys file the API is open, as it always was: `caller` answers None and jobs have no
owner. With one, every job route needs `Authorization: Bearer <key>`, a client reads only the
jobs it submitted, and each submission counts against the client's rate.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from pydantic import BaseModel

from api.dependencies import Jobs
from api.errors import Forbidden, RateLimited, Unauthorized
from api.keyring import ApiClient, KeyRing
from api.quota import Quota


def key_ring(request: Request) -> KeyRing | None:
    ring: KeyRing | None = request.app.state.keys
    return ring


async def caller(
    ring: Annotated[KeyRing | None, Depends(key_ring)],
    authorization: Annotated[
        str | None,
        Header(description="`Bearer <key>`: needed when the API has keys (KENNEL_API_KEYS)."),
    ] = None,
) -> ApiClient | None:
    """The client a job route serves (router-level dependency); None when the API is open.

    A plain optional header rather than a security scheme: an open API (no keys file) takes
    requests without it, and its OpenAPI says so.
    """
    if ring is None:
        return None
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("This API needs a key: send `Authorization: Bearer <key>`.")
    client = ring.client(key.strip())
    if client is None:
        raise Forbidden("This API key is not known.")
    return client


Caller = Annotated[ApiClient | None, Depends(caller)]


async def within_rate(client: Caller, jobs: Jobs) -> None:
    """Count a submission against its client's rate; refuse it beyond (429 with Retry-After)."""
    if client is None:
        return
    wait_s = await Quota(jobs.redis).take(client.name, client.rate_per_minute)
    if wait_s > 0:
        raise RateLimited(
            f"Client {client.name!r} is limited to {client.rate_per_minute} submissions a "
            "minute; try again later.",
            retry_after_s=wait_s,
        )


def owner_of(client: ApiClient | None) -> str | None:
    return None if client is None else client.name


class _Owner(BaseModel):
    """Just the owner of a stored job record (GET /jobs/{id} answers the record as stored)."""

    owner: str | None = None


def visible(record: bytes, client: ApiClient | None) -> bool:
    """May this caller see the job? Another client's job reads as unknown (404)."""
    return client is None or _Owner.model_validate_json(record).owner == client.name
