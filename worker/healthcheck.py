"""python -m worker.healthcheck: exit 0 while a worker on this host sends heartbeats (Docker's
check). A worker announces itself as `kennel:worker:<hostname>:<pid>` every heartbeat, with three
heartbeats of lifetime (worker/runtime.py); the key is gone once it stops, hangs or loses Redis.
In a container the hostname is the container's, so this is the container's worker (under host
networking every container shares the host's name: then it is any worker on the host).
"""

from __future__ import annotations

import socket
import sys

import redis

from jobs import protocol
from jobs.connection import connect
from worker.settings import WorkerSettings

TIMEOUT_S = 3


def heartbeats(settings: WorkerSettings, hostname: str) -> list[str]:
    """The heartbeat keys of the workers running on `hostname`."""
    with connect(
        settings.queue, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S
    ) as client:
        return [key.decode() for key in client.scan_iter(protocol.worker_key(f"{hostname}:*"))]


def main() -> None:
    """Exit 0 when healthy; otherwise exit 1 with the reason on stderr (Docker keeps it)."""
    hostname = socket.gethostname()
    try:
        found = heartbeats(WorkerSettings(), hostname)
    except (redis.exceptions.RedisError, OSError) as exc:
        sys.exit(f"unhealthy: Redis unavailable: {exc}")
    if not found:
        sys.exit(f"unhealthy: no heartbeat from a worker on {hostname}")


if __name__ == "__main__":
    main()
