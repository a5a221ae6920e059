"""python -m bench.webhooks: does a slow webhook receiver slow inference? And how late are
deliveries? One LocalSystem (one worker, the deliverer), a loopback receiver that answers each
POST after `--receiver-delay-s`, and rounds of `--jobs` jobs sent by closed-loop clients
(POST /jobs + GET ?wait), alternating: without a webhook, then with one.

Prints, per round: jobs/s, and for webhook rounds the lag from each job's finished_at to its
delivery (p50, p95, max); then the deliverer's and the worker's resident memory and CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil

from bench.report import percentile
from stack.system import LocalSystem

PHOTO = Path(__file__).resolve().parent.parent / "tests/data/photos/grad_dog_cat.jfif"


def slow_receiver(delay_s: float, arrivals: dict[str, float]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            arrivals[json.loads(body)["id"]] = time.time()
            time.sleep(delay_s)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def round_of(
    api: str, jobs: int, clients: int, webhook: str | None
) -> tuple[float, dict[str, float]]:
    image = PHOTO.read_bytes()
    ended: dict[str, float] = {}
    todo = iter(range(jobs))
    form = {"webhook": webhook} if webhook else {}

    async def client(http: httpx.AsyncClient) -> None:
        for _ in todo:
            job = (await http.post("/jobs", files={"image": image}, data=form)).json()
            done = (await http.get(f"/jobs/{job['id']}?wait=60")).json()
            assert done["status"] == "succeeded", done
            ended[job["id"]] = datetime.fromisoformat(done["finished_at"]).timestamp()

    async with httpx.AsyncClient(base_url=api, timeout=90) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        return jobs / (time.perf_counter() - started), ended


def usage(process: psutil.Process) -> str:
    with process.oneshot():
        cpu = process.cpu_times()
        return f"RSS {process.memory_info().rss / 2**20:.0f} MiB, CPU {cpu.user + cpu.system:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--receiver-delay-s", type=float, default=2.0)
    args = parser.parse_args()
    arrivals: dict[str, float] = {}
    receiver = slow_receiver(args.receiver_delay_s, arrivals)
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    env = {"KENNEL_WEBHOOK_ALLOW_PRIVATE": "true", "KENNEL_WORKER_HEARTBEAT_S": "1"}
    with LocalSystem(Path(tempfile.mkdtemp()), env=env, persist_redis=False) as system:
        for number in range(args.rounds):
            for webhook in (None, url):
                rate, ended = asyncio.run(
                    round_of(system.api_url, args.jobs, args.clients, webhook)
                )
                line = (
                    f"round {number + 1} {'webhook' if webhook else 'none   '}: {rate:5.1f} jobs/s"
                )
                if webhook:
                    deadline = time.time() + 600
                    while not set(ended) <= set(arrivals) and time.time() < deadline:
                        time.sleep(0.2)
                    lags = sorted(arrivals[i] - ended[i] for i in ended if i in arrivals)
                    line += (
                        f"; delivery lag p50 {percentile(lags, 50):.2f} s, p95 "
                        f"{percentile(lags, 95):.2f} s, max {lags[-1]:.2f} s ({len(lags)} arrived)"
                    )
                print(line, flush=True)
        assert system.webhooks is not None
        print("deliverer:", usage(psutil.Process(system.webhooks.pid)))
        print("worker:   ", usage(psutil.Process(system.workers[0].pid)))
    receiver.shutdown()


if __name__ == "__main__":
    main()
