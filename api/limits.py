"""Refuse request bodies that are too large or too slow, while they stream in.

BodyLimits wraps the ASGI `receive`: it counts the body's bytes (413 `file_too_large` past
the limit, before the body reaches memory or disk) and times it (408 `upload_too_slow` when
the whole body has not arrived `body_timeout_s` after the request's headers). Both errors are
raised from `receive`, so whoever is reading the body stops; api/errors.py answers them.
Headers that trickle in are api/server.py's business: this runs only once they are complete.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, BodyTooLarge, UploadTooSlow, api_error_response

# Room for the multipart envelope and the small form fields around the image.
ENVELOPE_BYTES = 64 * 1024


class BodyLimits:
    def __init__(self, app: ASGIApp, max_body_bytes: int, body_timeout_s: float) -> None:
        self.app = app
        self.max_image_bytes = max_body_bytes
        self.max_body_bytes = max_body_bytes + ENVELOPE_BYTES
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(self._too_large(), scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout_s
        received = 0
        complete = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:  # the body is in; later calls wait for a disconnect, untimed
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise self._too_slow() from None
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise self._too_large()
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except (BodyTooLarge, UploadTooSlow) as exc:
            if response_started:
                raise
            await self._refuse(exc, scope, receive, send)

    def _too_large(self) -> BodyTooLarge:
        return BodyTooLarge(f"The upload is larger than the limit of {self.max_image_bytes} bytes.")

    def _too_slow(self) -> UploadTooSlow:
        return UploadTooSlow(
            f"The request body did not arrive within {self.body_timeout_s:g} s of its headers."
        )

    @staticmethod
    async def _refuse(exc: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
        await api_error_response(exc)(scope, receive, send)
