"""Stopping `make up` stops everything it started, always: under load, with a worker being
restarted, and with a second SIGTERM arriving while it stops. It also runs on an explicitly
set Redis without an append-only file, warning loudly, and /readyz says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from stack.processes import ROOT, free_port
from stack.redis import EmbeddedRedis
from tests.conftest import photo

TAG = "KENNEL_TEST_STOP_TAG"


@pytest.fixture
def snapshot_only_redis(tmp_path: Path) -> Iterator[str]:
    server = EmbeddedRedis(tmp_path / "redis", tmp_path / "logs", persist=False).start()
    yield server.url
    server.stop()


def tagged(tag: str) -> list[psutil.Process]:
    """Every process still running that was started under this test's tag."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(TAG) == tag and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def submit_until(url: str, stop: threading.Event, accepted: list[str]) -> None:
    image = photo("grad_dog_cat.jfif").data
    with httpx.Client(base_url=url, timeout=30) as client:
        while not stop.is_set():
            try:
                response = client.post("/jobs", files={"image": image})
            except httpx.HTTPError:
                continue  # the API is going away
            if response.status_code == 202:
                accepted.append(response.json()["id"])


def test_sigterm_under_load_with_a_worker_restarting_leaves_no_process(
    tmp_path: Path, snapshot_only_redis: str
) -> None:
    port, tag = free_port(), uuid.uuid4().hex
    env = {**os.environ, "KENNEL_REDIS_URL": snapshot_only_redis, "KENNEL_API_PORT": str(port),
           TAG: tag}  # fmt: skip
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen([sys.executable, "-m", "stack"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)  # fmt: skip
    stop, accepted = threading.Event(), []
    url = f"http://127.0.0.1:{port}"
    load = [threading.Thread(target=submit_until, args=(url, stop, accepted)) for _ in range(4)]
    try:
        _wait_for(log_path, up, "kennel is up")
        ready = httpx.get(f"{url}/readyz", timeout=30).json()
        assert ready["status"] == "ready" and ready["redis"]["durable"] is False, ready
        for thread in load:
            thread.start()
        (worker,) = [p for p in psutil.Process(up.pid).children() if "worker" in p.cmdline()]
        # LocalSystem restarts a worker that dies after running 10 s: be past that, then kill it
        # so that a restart races the stop below.
        deadline = time.monotonic() + 120
        while len(accepted) < 8 or time.time() < worker.create_time() + 11:
            assert time.monotonic() < deadline, f"{len(accepted)} jobs accepted under load"
            time.sleep(0.2)
        worker.kill()
        time.sleep(0.4)
        up.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        up.send_signal(signal.SIGTERM)  # impatient: a second one while it stops
        assert up.wait(timeout=90) == 0, log_path.read_text()[-3000:]
    finally:
        stop.set()
        for thread in load:
            if thread.is_alive():
                thread.join(timeout=60)
        if up.poll() is None:
            up.kill()
    deadline = time.monotonic() + 10
    while tagged(tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = [(p.pid, p.cmdline()) for p in tagged(tag)]
    for process in tagged(tag):
        process.kill()
    assert not survivors, f"still running after make up stopped: {survivors}"

    output = log_path.read_text()
    assert "WARNING: KENNEL_REDIS_URL=" in output and "no append-only file" in output
    assert f"api: http://127.0.0.1:{port}/metrics" in output
    assert "worker-1: http://127.0.0.1:" in output


def _wait_for(log_path: Path, up: subprocess.Popen[bytes], text: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if text in log_path.read_text():
            return
        assert up.poll() is None, f"python -m stack exited:\n{log_path.read_text()}"
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} after 180 s:\n{log_path.read_text()}")
