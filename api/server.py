"""The uvicorn server the API runs in, with a timeout on request headers.

uvicorn times idle keep-alive connections but not a request whose headers trickle in a byte at
a time: such a client holds a connection (and a file descriptor) forever. HeaderTimeout, a
subclass of uvicorn's httptools protocol, starts a timer when a connection opens and when each
request begins, stops it when the headers are complete, and answers 408 `upload_too_slow` and
closes the connection when it fires. The body is timed by api/limits.py. Raw bytes here: the
ASGI app (and so api/errors.py) has not seen the request yet.
"""

from __future__ import annotations

import asyncio
import json

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.settings import ApiSettings
from jobs.contract import ErrorCode


class HeaderTimeout(HttpToolsProtocol):
    header_timeout_s = 30.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        message = f"The request headers did not arrive within {self.header_timeout_s:g} s."
        body = json.dumps({"error": {"code": ErrorCode.UPLOAD_TOO_SLOW, "message": message}})
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n{body}".encode()
        )
        self.transport.close()


def header_timeout_protocol(timeout_s: float) -> type[HeaderTimeout]:
    return type("HeaderTimeout", (HeaderTimeout,), {"header_timeout_s": timeout_s})


def serve(app: FastAPI, settings: ApiSettings) -> None:
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        http=header_timeout_protocol(settings.header_timeout_s),
        log_level="info",
        access_log=settings.access_log,
    )
