"""The benchmark's load generator: closed-loop asyncio clients (aiohttp) in one light process.

`python -m bench.loadgen --url URL --mode predict|jobs --clients N --seconds S --images DIR`
encodes each image's multipart body once, prints `ready`, waits for a line on stdin (so the
benchmark reads every process's CPU time right before the load starts), runs N clients that
each send their next request as soon as the previous one is answered, for S seconds, lets the
requests in flight finish, prints one JSON line (a `LoadResult`) and exits at the next line
on stdin (so its CPU time can be read after the load, before it is gone). Every answer is checked:
`predict` wants 200 with predictions; `jobs` sends `POST /jobs` and then `GET /jobs/{id}?wait=30`
until the job is terminal, and wants `succeeded` with predictions. Anything else is an error,
counted and never timed as a success.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp

BOUNDARY = "kennel-bench-boundary"
LONG_POLL_S = 30  # GET /jobs/{id}?wait=30 (the API answers the job as it stands after that)
REQUEST_TIMEOUT_S = 120
TERMINAL = {"succeeded", "failed"}


class WrongAnswer(Exception):
    pass


@dataclass(frozen=True)
class LoadResult:
    clients: int
    requests: int  # answered and checked
    errors: int
    first_error: str
    elapsed_s: float
    latencies_ms: list[float]

    @property
    def per_s(self) -> float:
        return self.requests / self.elapsed_s if self.elapsed_s else 0.0


def form_body(image: bytes, model: str) -> bytes:
    return b"".join(
        [
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\n'
            f"{model}\r\n".encode(),
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="image"; '
            'filename="image.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode(),
            image,
            f"\r\n--{BOUNDARY}--\r\n".encode(),
        ]
    )


HEADERS = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
Call = Callable[[aiohttp.ClientSession, str, bytes], Awaitable[None]]


def _check_predictions(body: Any) -> None:
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not predictions or "label" not in predictions[0]:
        raise WrongAnswer(f"no predictions in {str(body)[:200]}")


async def predict(session: aiohttp.ClientSession, url: str, body: bytes) -> None:
    """POST /predict; a 202 (the answer took longer than the API waits) is followed up as the
    API documents it, by waiting on the job."""
    async with session.post(f"{url}/predict", data=body, headers=HEADERS) as response:
        answer = await response.json(content_type=None)
        if response.status == 202:
            return await until_terminal(session, url, answer)
        if response.status != 200:
            raise WrongAnswer(f"POST /predict answered {response.status}: {str(answer)[:200]}")
    _check_predictions(answer)


async def job(session: aiohttp.ClientSession, url: str, body: bytes) -> None:
    async with session.post(f"{url}/jobs", data=body, headers=HEADERS) as response:
        answer = await response.json(content_type=None)
        if response.status not in (200, 202):
            raise WrongAnswer(f"POST /jobs answered {response.status}: {str(answer)[:200]}")
    await until_terminal(session, url, answer)


async def until_terminal(session: aiohttp.ClientSession, url: str, answer: Any) -> None:
    """GET /jobs/{id}?wait=30 until the job has ended; it must have succeeded."""
    while answer.get("status") not in TERMINAL:
        async with session.get(
            f"{url}/jobs/{answer['id']}", params={"wait": str(LONG_POLL_S)}
        ) as response:
            answer = await response.json(content_type=None)
            if response.status != 200:
                raise WrongAnswer(f"GET /jobs answered {response.status}: {str(answer)[:200]}")
    if answer["status"] != "succeeded":
        raise WrongAnswer(f"job ended {answer['status']}: {str(answer.get('error'))[:200]}")
    _check_predictions(answer.get("result") or {})


CALLS: dict[str, Call] = {"predict": predict, "jobs": job}


async def run(
    url: str, call: Call, bodies: list[bytes], clients: int, seconds: float
) -> LoadResult:
    latencies: list[float] = []
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        deadline = started + seconds

        async def client(n: int) -> None:
            for body in itertools.islice(itertools.cycle(bodies), n, None):
                if time.perf_counter() >= deadline:
                    return
                sent = time.perf_counter()
                try:
                    await call(session, url, body)
                except (WrongAnswer, aiohttp.ClientError, TimeoutError, KeyError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                else:
                    latencies.append((time.perf_counter() - sent) * 1000)

        await asyncio.gather(*(client(n * 7) for n in range(clients)))
        elapsed = time.perf_counter() - started
    return LoadResult(clients, len(latencies), len(errors), errors[0] if errors else "", elapsed,
                      latencies)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=sorted(CALLS), required=True)
    parser.add_argument("--model", default="imagewoof")
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--images", type=Path, required=True, help="a directory of .jpg files")
    args = parser.parse_args()
    images = [p.read_bytes() for p in sorted(args.images.glob("*.jpg"))]
    if not images:
        raise SystemExit(f"no .jpg under {args.images}")
    bodies = [form_body(image, args.model) for image in images]
    say("ready")
    sys.stdin.readline()
    result = asyncio.run(run(args.url, CALLS[args.mode], bodies, args.clients, args.seconds))
    say(json.dumps(asdict(result)))
    sys.stdin.readline()


def say(line: str) -> None:
    """One line to the benchmark that started this process (its stdout is that channel)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
