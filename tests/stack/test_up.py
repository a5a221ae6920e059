"""`make up`'s entry point: no Redis configured, so it embeds one; Ctrl-C stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from stack.processes import ROOT, free_port
from tests.conftest import photo


def test_python_m_stack_runs_the_whole_system_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "KENNEL_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing answers there
        "KENNEL_API_PORT": str(port),
    }
    with (tmp_path / "up.log").open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "stack"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_banner(tmp_path / "up.log", up)
        children = psutil.Process(up.pid).children(recursive=True)
        assert len(children) == 4  # redis-server, worker, webhook deliverer, API
        response = httpx.post(
            f"http://127.0.0.1:{port}/predict",
            files={"image": photo("grad_dog_cat.jfif").data},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        assert response.json()["predictions"][0]["label"] == "golden retriever"

        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0
        _, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"still running after Ctrl-C: {alive}"
    finally:
        if up.poll() is None:
            up.kill()
    output = (tmp_path / "up.log").read_text()
    assert "starting an embedded redis-server" in output
    assert f"http://127.0.0.1:{port}/docs" in output


def _wait_for_banner(log_path: Path, up: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if "kennel is up" in log_path.read_text():
            return
        assert up.poll() is None, f"python -m stack exited:\n{log_path.read_text()}"
        time.sleep(0.2)
    raise AssertionError(f"no banner after 120 s:\n{log_path.read_text()}")
