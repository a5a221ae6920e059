"""Server-Sent Events: a job's records as an event stream (GET /jobs/{id}/events)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from jobs.client import status_of

# A comment line this often keeps proxies and clients from closing a quiet stream.
KEEPALIVE_S = 15.0
KEEPALIVE = ": keepalive\n\n"
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event(record: bytes) -> str:
    """One event named after the job's state, its data the job JSON (one line, as stored)."""
    return f"event: {status_of(record).value}\ndata: {record.decode()}\n\n"


async def stream(first: bytes, rest: AsyncIterator[bytes | None]) -> AsyncIterator[str]:
    yield event(first)
    async for record in rest:
        yield KEEPALIVE if record is None else event(record)
