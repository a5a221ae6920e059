"""Slow clients are cut: headers or a body that trickle in answer 408 `upload_too_slow`.

A real uvicorn (`python -m api`) with short timeouts, and raw sockets that send a byte at a
time. These requests never reach Redis, so the API runs alone here.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack.processes import Service, free_port, wait_until
from stack.readiness import api_healthy

TIMEOUT_S = 1.5


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    service = Service.python(
        "api",
        "api",
        Path(tmp_path_factory.mktemp("slow")),
        {
            "KENNEL_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "KENNEL_API_PORT": str(port),
            "KENNEL_API_BODY_TIMEOUT_S": str(TIMEOUT_S),
            "KENNEL_API_HEADER_TIMEOUT_S": str(TIMEOUT_S),
        },
    ).start()
    try:
        wait_until(lambda: api_healthy(f"http://127.0.0.1:{port}"), 60, "the API", service)
        yield port
    finally:
        service.stop()


def trickle(port: int, data: bytes, every_s: float = 0.2, limit_s: float = 30) -> bytes:
    """Send `data` a byte every `every_s`; return whatever the server answers before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=limit_s) as sock:
        sock.settimeout(every_s)
        answer = b""
        deadline = time.monotonic() + limit_s
        for byte in data:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            answer += _read_some(sock)
            if answer.endswith(b"}") or time.monotonic() > deadline:
                break
        sock.settimeout(5)
        while chunk := _read_some(sock):
            answer += chunk
        return answer


def _read_some(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except (TimeoutError, ConnectionResetError):
        return b""


def _status_and_code(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, json.loads(body)["error"]["code"]


def test_a_body_that_trickles_is_cut_with_408(api: int) -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="image"; filename="x"\r\n\r\n' + (
        b"x" * 500
    )
    request = (
        b"POST /jobs HTTP/1.1\r\nHost: kennel\r\n"
        b"Content-Type: multipart/form-data; boundary=b\r\n"
        + f"Content-Length: {len(body) + 100}\r\n\r\n".encode()
    )
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", api), timeout=30) as sock:
        sock.sendall(request)  # the headers at once, then the body a byte at a time
        answer = b""
        for byte in body:
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.05)
            sock.settimeout(0.001)
            answer += _read_some(sock)
            if b"}" in answer:
                break
        sock.settimeout(5)
        while chunk := _read_some(sock):
            answer += chunk
    elapsed = time.monotonic() - started
    assert _status_and_code(answer) == (408, "upload_too_slow")
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 10
    assert b"connection: close" in answer.lower()


def test_headers_that_trickle_are_cut_with_408(api: int) -> None:
    request = b"POST /jobs HTTP/1.1\r\nHost: kennel\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"
    started = time.monotonic()
    answer = trickle(api, request)
    elapsed = time.monotonic() - started
    assert _status_and_code(answer) == (408, "upload_too_slow")
    assert TIMEOUT_S <= elapsed < TIMEOUT_S + 10


def test_a_connection_that_sends_nothing_is_closed(api: int) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", api), timeout=30) as sock:
        answer = sock.recv(65536)  # blocks until the server answers and closes
        while chunk := sock.recv(65536):
            answer += chunk
    assert _status_and_code(answer) == (408, "upload_too_slow")
    assert time.monotonic() - started < TIMEOUT_S + 10


def test_a_prompt_request_on_the_same_server_is_unaffected(api: int) -> None:
    """Keep-alive: three prompt requests on one connection that stays open longer than the
    header timeout; the timer runs per request, not per connection."""
    with socket.create_connection(("127.0.0.1", api), timeout=30) as sock:
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: kennel\r\n\r\n")
            answer = b""
            while b'"ok"}' not in answer:
                chunk = sock.recv(65536)
                assert chunk
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200")
            time.sleep(TIMEOUT_S * 0.7)
