"""A small typed client for kennel's job API, on httpx: `Client` (sync) and `AsyncClient`.

    with Client("http://127.0.0.1:8000", api_key=None) as kennel:
        job = kennel.classify("dog.jpg", top_k=3)
        print(job.result.predictions[0].label)

`wait` asks the server to hold the request (`GET /jobs/{id}?wait=S`) and, where a server
answers at once instead, polls every `poll_s`; either way it returns only an ended job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from jobs.contract import Job, JobStatus, Priority
from kennel.errors import JobFailed, WaitTimedOut, error_from
from kennel.sse import ServerSentEvent, SseDecoder

DEFAULT_URL = "http://127.0.0.1:8000"
# The longest a server holds `GET /jobs/{id}?wait=S`; the client asks for no more per request.
MAX_WAIT_S = 30.0
Image = bytes | str | Path


def _image_bytes(image: Image) -> bytes:
    return image if isinstance(image, bytes) else Path(image).read_bytes()


def _headers(api_key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def _form(
    model: str | None,
    top_k: int | None,
    deadline_s: float | None,
    priority: Priority | None = None,
) -> dict[str, str]:
    fields = {
        "model": model,
        "top_k": None if top_k is None else str(top_k),
        "deadline_s": None if deadline_s is None else f"{deadline_s:g}",
        "priority": None if priority is None else priority.value,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _prefer(wait_s: float | None, idempotency_key: str | None = None) -> dict[str, str]:
    headers = {} if not wait_s else {"Prefer": f"wait={max(1, round(wait_s))}"}
    return headers if idempotency_key is None else {**headers, "Idempotency-Key": idempotency_key}


def _job(response: httpx.Response) -> Job:
    if response.is_error:
        raise error_from(response)
    return Job.model_validate_json(response.content)


def _succeeded(job: Job) -> Job:
    if job.status != JobStatus.SUCCEEDED:
        raise JobFailed(job)
    return job


def _request_timeout(wait_s: float, timeout_s: float) -> httpx.Timeout:
    return httpx.Timeout(timeout_s, read=wait_s + timeout_s)


class Client:
    """Synchronous. `url` is kennel's API; `api_key` is sent as a bearer token if given."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        poll_s: float = 0.25,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        self._http = httpx.Client(
            base_url=url, headers=_headers(api_key), timeout=timeout_s, transport=transport
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(
        self,
        image: Image,
        model: str | None = None,
        top_k: int | None = None,
        wait_s: float | None = None,
        deadline_s: float | None = None,
        priority: Priority | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Queue an image (POST /jobs); with `wait_s`, ask the server to answer once it ends;
        with `deadline_s`, the job ends `expired` if no worker starts it within that; the
        same `idempotency_key` again answers the job it made (a retry makes no second job)."""
        response = self._http.post(
            "/jobs",
            files={"image": _image_bytes(image)},
            data=_form(model, top_k, deadline_s, priority),
            headers=_prefer(wait_s, idempotency_key),
            timeout=_request_timeout(wait_s or 0, self._timeout_s),
        )
        return _job(response)

    def get(self, job_id: str, wait_s: float | None = None) -> Job:
        params: dict[str, Any] = {"wait": f"{wait_s:g}"} if wait_s else {}
        timeout = _request_timeout(wait_s or 0, self._timeout_s)
        return _job(self._http.get(f"/jobs/{job_id}", params=params, timeout=timeout))

    def wait(self, job_id: str, timeout_s: float = 60.0) -> Job:
        """The job once it has ended; `WaitTimedOut` (carrying the job) after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            asked = min(max(remaining, 0), MAX_WAIT_S)
            job = self.get(job_id, wait_s=asked)
            if job.status.is_terminal():
                return job
            if deadline - time.monotonic() <= 0:
                raise WaitTimedOut(job, timeout_s)
            time.sleep(min(self._poll_s, max(deadline - time.monotonic(), 0)))

    def cancel(self, job_id: str) -> Job:
        return _job(self._http.post(f"/jobs/{job_id}/cancel"))

    def events(self, job_id: str) -> Iterator[ServerSentEvent]:
        """The job's state changes as they happen (GET /jobs/{id}/events), until it ends."""
        decoder = SseDecoder()
        timeout = httpx.Timeout(self._timeout_s, read=None)
        with self._http.stream("GET", f"/jobs/{job_id}/events", timeout=timeout) as response:
            if response.is_error:
                response.read()
                raise error_from(response)
            for line in response.iter_lines():
                event = decoder.feed(line)
                if event is not None:
                    yield event

    def classify(
        self,
        image: Image,
        model: str | None = None,
        top_k: int | None = None,
        timeout_s: float = 60,
    ) -> Job:
        """Submit and wait: the succeeded job (its `result.predictions`), else `JobFailed`."""
        job = self.submit(image, model, top_k, wait_s=min(timeout_s, MAX_WAIT_S))
        if not job.status.is_terminal():
            job = self.wait(job.id, timeout_s)
        return _succeeded(job)


class AsyncClient:
    """The same calls as `Client`, for asyncio."""

    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        poll_s: float = 0.25,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._timeout_s = timeout_s
        self._poll_s = poll_s
        self._http = httpx.AsyncClient(
            base_url=url, headers=_headers(api_key), timeout=timeout_s, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, *_: type[BaseException] | BaseException | TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def submit(
        self,
        image: Image,
        model: str | None = None,
        top_k: int | None = None,
        wait_s: float | None = None,
        deadline_s: float | None = None,
        priority: Priority | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        data = await asyncio.to_thread(_image_bytes, image)
        response = await self._http.post(
            "/jobs",
            files={"image": data},
            data=_form(model, top_k, deadline_s, priority),
            headers=_prefer(wait_s, idempotency_key),
            timeout=_request_timeout(wait_s or 0, self._timeout_s),
        )
        return _job(response)

    async def get(self, job_id: str, wait_s: float | None = None) -> Job:
        params: dict[str, Any] = {"wait": f"{wait_s:g}"} if wait_s else {}
        timeout = _request_timeout(wait_s or 0, self._timeout_s)
        return _job(await self._http.get(f"/jobs/{job_id}", params=params, timeout=timeout))

    async def wait(self, job_id: str, timeout_s: float = 60.0) -> Job:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            asked = min(max(deadline - loop.time(), 0), MAX_WAIT_S)
            job = await self.get(job_id, wait_s=asked)
            if job.status.is_terminal():
                return job
            if deadline - loop.time() <= 0:
                raise WaitTimedOut(job, timeout_s)
            await asyncio.sleep(min(self._poll_s, max(deadline - loop.time(), 0)))

    async def cancel(self, job_id: str) -> Job:
        return _job(await self._http.post(f"/jobs/{job_id}/cancel"))

    async def events(self, job_id: str) -> AsyncIterator[ServerSentEvent]:
        decoder = SseDecoder()
        timeout = httpx.Timeout(self._timeout_s, read=None)
        async with self._http.stream("GET", f"/jobs/{job_id}/events", timeout=timeout) as response:
            if response.is_error:
                await response.aread()
                raise error_from(response)
            async for line in response.aiter_lines():
                event = decoder.feed(line)
                if event is not None:
                    yield event

    async def classify(
        self,
        image: Image,
        model: str | None = None,
        top_k: int | None = None,
        timeout_s: float = 60,
    ) -> Job:
        job = await self.submit(image, model, top_k, wait_s=min(timeout_s, MAX_WAIT_S))
        if not job.status.is_terminal():
            job = await self.wait(job.id, timeout_s)
        return _succeeded(job)
