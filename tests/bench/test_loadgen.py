"""The load generator checks every answer: wrong ones are errors, never timed successes.

Against a small aiohttp server on a real socket that answers as kennel's API would, and wrongly
on purpose: the load generator's own logic is what is tested here.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from aiohttp import web

from bench.loadgen import LoadResult, job, predict, run

PREDICTIONS = {"predictions": [{"label": "beagle", "score": 0.9}]}


def scripted_api(waits: list[str]) -> web.Application:
    """/predict: 200 with predictions, then 500, then 200 without any, in turn. /jobs: each job
    is queued, then running, then ends as its number says (every third one fails)."""
    predicts = itertools.cycle([(200, PREDICTIONS), (500, {"error": "boom"}), (200, {})])
    submitted = itertools.count()
    reads: dict[str, int] = {}

    async def predict_route(_: web.Request) -> web.Response:
        status, body = next(predicts)
        return web.json_response(body, status=status)

    async def submit(_: web.Request) -> web.Response:
        return web.json_response({"id": f"j{next(submitted)}", "status": "queued"}, status=202)

    async def read(request: web.Request) -> web.Response:
        job_id = request.match_info["id"]
        waits.append(request.query.get("wait", ""))
        reads[job_id] = reads.get(job_id, 0) + 1
        body: dict[str, Any] = {"id": job_id, "status": "running"}
        if reads[job_id] >= 2:
            failed = int(job_id[1:]) % 3 == 2
            body = {"id": job_id, "status": "failed" if failed else "succeeded",
                    "result": None if failed else PREDICTIONS}  # fmt: skip
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/predict", predict_route)
    app.router.add_post("/jobs", submit)
    app.router.add_get("/jobs/{id}", read)
    return app


async def against(app: web.Application, mode: str) -> LoadResult:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        call = predict if mode == "predict" else job
        return await run(f"http://127.0.0.1:{port}", call, [b"body"], clients=3, seconds=0.5)
    finally:
        await runner.cleanup()


def test_predict_answers_without_predictions_or_not_200_are_errors() -> None:
    result = asyncio.run(against(scripted_api([]), "predict"))
    assert result.requests > 0 and result.errors > 0
    assert abs(result.errors - 2 * result.requests) <= 3  # two wrong answers for each right one
    assert len(result.latencies_ms) == result.requests
    assert "500" in result.first_error or "no predictions" in result.first_error


def test_jobs_are_long_polled_until_they_end_and_failed_ones_are_errors() -> None:
    waits: list[str] = []
    result = asyncio.run(against(scripted_api(waits), "jobs"))
    assert result.requests > 0 and result.errors > 0
    assert "job ended failed" in result.first_error
    assert waits and set(waits) == {"30"}  # GET /jobs/{id}?wait=30, every time
