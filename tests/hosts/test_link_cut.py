"""kennel across hosts: Redis, the API, two workers and a client, each in its own namespace.

Under load one worker's link is cut. Its jobs must finish on the other worker within three
heartbeats (not after the 60 s redelivery timeout), none lost or run to a different answer;
when the link comes back the same worker process serves again.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from stack.processes import ROOT
from stack.redis import redis_server_binary
from tests.conftest import photo
from tests.hosts.netns import Host, Network

HEARTBEAT_S = 2
REDIS_PORT = 6379
API_PORT = 8000


@pytest.fixture
def network() -> Iterator[Network]:
    net = Network()
    try:
        yield net
    finally:
        net.close()


def start_worker(host: Host, redis_url: str, log_dir: Path) -> int:
    env = {
        "KENNEL_REDIS_URL": redis_url,
        "KENNEL_WORKER_HEARTBEAT_S": str(HEARTBEAT_S),
        "KENNEL_WORKER_METRICS_PORT": "0",
        "KENNEL_WORKER_MAX_WAIT_MS": "20",
    }
    return host.python(f"worker-{host.name}", "worker", log_dir, env).pid


def test_a_cut_off_workers_jobs_finish_on_the_other_within_three_heartbeats(
    network: Network, tmp_path: Path
) -> None:
    redis_host, api_host, w1, w2, client = (
        network.add_host(role) for role in ("redis", "api", "w1", "w2", "client")
    )
    redis_url = f"redis://{redis_host.address}:{REDIS_PORT}/0"
    logs = tmp_path / "logs"
    redis_host.run(
        "redis",
        [str(redis_server_binary()), "--bind", redis_host.address, "--port", str(REDIS_PORT),
         "--save", "", "--appendonly", "yes", "--dir", str(tmp_path)],
        logs,
    )  # fmt: skip
    victim_pid = start_worker(w1, redis_url, logs)
    start_worker(w2, redis_url, logs)
    api_host.python(
        "api",
        "api",
        logs,
        {"KENNEL_REDIS_URL": redis_url, "KENNEL_API_HOST": api_host.address,
         "KENNEL_API_PORT": str(API_PORT)},
    )  # fmt: skip
    scenario = {
        "api_url": f"http://{api_host.address}:{API_PORT}",
        "redis_url": redis_url,
        "image": str(photo("grad_dog_cat.jfif").path),
        "victim_worker": f"{socket.gethostname()}:{victim_pid}",
        "cut": ["ip", "-n", w1.name, "link", "set", "dev", w1.device, "down"],
        "restore": ["ip", "-n", w1.name, "link", "set", "dev", w1.device, "up"],
        "jobs": 60,
        "jobs_during_cut": 20,
        "jobs_after": 40,
        "timeout_s": 90,
    }
    (tmp_path / "scenario.json").write_text(json.dumps(scenario))
    drive = subprocess.run(
        ["ip", "netns", "exec", client.name, sys.executable, "-m", "tests.hosts.drive",
         str(tmp_path / "scenario.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=400,
    )  # fmt: skip
    services = [s for h in network.hosts for s in h.services]
    logs_tail = "\n".join(f"--- {s.name}\n{s.log_tail(15)}" for s in services)
    assert drive.returncode == 0, f"{drive.stderr[-3000:]}\n{logs_tail}"
    report = json.loads(drive.stdout)

    jobs = report["jobs"]
    assert Counter(j["status"] for j in jobs.values()) == {"succeeded": len(jobs)}, logs_tail
    assert {j["result"]["predictions"][0]["label"] for j in jobs.values()} == {"golden retriever"}
    victims = [jobs[i] for i in report["victim_running_at_cut"]]
    finished = max(datetime.fromisoformat(j["finished_at"]).timestamp() for j in victims)
    recovery_s = finished - report["cut_at"]
    print(
        f"\nthe cut-off worker's {len(victims)} running jobs ended {recovery_s:.1f} s after the cut"
    )
    assert recovery_s < 3 * HEARTBEAT_S + 10  # three heartbeats, plus the work queued before them

    # The link is back: the same process serves again, no restart.
    assert report["victim_back_after_s"] is not None, logs_tail
    assert w1.services[0].alive()
    after = report["after"].values()
    assert Counter(j["status"] for j in after) == {"succeeded": len(after)}
    print(f"it ran jobs again in wave {report['waves_after']} after the link came back")
    assert scenario["victim_worker"] in report["workers_after"]
