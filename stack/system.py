"""A whole kennel on this machine: Redis, N workers and the API, as child processes.

`make up`, the system tests and the benchmark all start kennel through LocalSystem.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from stack.processes import Service, free_port, port_open, wait_until
from stack.readiness import api_healthy, workers_announced
from stack.redis import EmbeddedRedis, answers

log = logging.getLogger(__name__)
SUPERVISE_EVERY_S = 0.5


class LocalSystem:
    def __init__(
        self,
        var_dir: Path,
        workers: int = 1,
        api_host: str = "127.0.0.1",
        api_port: int | None = None,
        redis_url: str | None = None,
        env: Mapping[str, str] | None = None,
        persist_redis: bool = True,
        restart_workers: bool = True,
        min_worker_uptime_s: float = 10.0,
    ) -> None:
        """`redis_url`: use that Redis if it answers, else start an embedded one (None: always).

        `restart_workers`: start again a worker that crashes after it started, as compose's
        restart policy does (Celery stops a worker on some broker errors: a kombu race when
        Redis goes away mid-acknowledgement). One that exits within `min_worker_uptime_s` of
        starting failed to start (say, a model that cannot load) and is left dead.
        """
        self.var_dir = var_dir
        self.log_dir = var_dir / "logs"
        self.n_workers = workers
        self.api_host = api_host
        self.api_port = api_port or free_port()
        self.api_url = f"http://{api_host}:{self.api_port}"
        self.embedded: EmbeddedRedis | None = None
        self.redis_url = redis_url if redis_url and answers(redis_url) else ""
        if not self.redis_url:
            self.embedded = EmbeddedRedis(var_dir / "redis", self.log_dir, persist=persist_redis)
            self.redis_url = self.embedded.url
        self.env = dict(env or {})
        self.workers: list[Service] = []
        self.worker_metrics_ports: list[int] = []  # one per worker; see docs/metrics.md
        self.api: Service | None = None
        self.webhooks: Service | None = None  # the webhook deliverer (python -m worker.webhooks)
        self.webhooks_metrics_port = free_port()
        self._restart_workers = restart_workers
        self._min_uptime_s = min_worker_uptime_s
        self._stopping = threading.Event()
        # Held while the supervisor restarts a worker and while stop() runs: once stop() has it,
        # nothing is started again.
        self._lifecycle = threading.Lock()
        self._supervisor: threading.Thread | None = None

    @property
    def service_env(self) -> dict[str, str]:
        return {**self.env, "KENNEL_REDIS_URL": self.redis_url}

    def start(self) -> LocalSystem:
        if port_open(self.api_port, self.api_host):
            raise RuntimeError(
                f"Port {self.api_port} is taken; set KENNEL_API_PORT to another port."
            )
        if self.embedded is not None:
            self.embedded.start()
        for _ in range(self.n_workers):
            self.add_worker(wait=False)
        self.wait_for_workers(self.n_workers)
        self.webhooks = Service(
            "webhooks",
            [sys.executable, "-m", "worker.webhooks"],
            self.log_dir,
            {
                **self.service_env,
                "KENNEL_WEBHOOK_METRICS_PORT": str(self.webhooks_metrics_port),
                "KENNEL_WEBHOOK_METRICS_HOST": "127.0.0.1",
            },
        ).start()
        self.api = Service(
            "api",
            [sys.executable, "-m", "api"],
            self.log_dir,
            {
                **self.service_env,
                "KENNEL_API_PORT": str(self.api_port),
                "KENNEL_API_HOST": self.api_host,
            },
        ).start()
        wait_until(lambda: api_healthy(self.api_url), 60, "the API", self.api)
        if self._restart_workers:
            self._supervisor = threading.Thread(
                target=self._supervise, name="supervisor", daemon=True
            )
            self._supervisor.start()
        return self

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISE_EVERY_S):
            with self._lifecycle:
                if self._stopping.is_set():
                    return
                self._restart_crashed()

    def _restart_crashed(self) -> None:
        for worker in self.workers:
            if worker.crashed_after(self._min_uptime_s):
                log.warning(
                    "%s exited with code %s; restarting it. Its log ends:\n%s",
                    worker.name,
                    worker.returncode(),
                    worker.log_tail(5),
                )
                worker.start()

    def dead(self) -> list[Service]:
        """Services that stopped and will not come back by themselves."""
        return [
            service
            for service in self.services()
            if not service.alive()
            and not (
                self._restart_workers
                and service in self.workers
                and service.crashed_after(self._min_uptime_s)
            )
        ]

    def add_worker(self, wait: bool = True) -> Service:
        name = f"worker-{len(self.workers) + 1}"
        metrics_port = free_port()
        env = {
            **self.service_env,
            "KENNEL_WORKER_METRICS_PORT": str(metrics_port),
            "KENNEL_WORKER_METRICS_HOST": "127.0.0.1",
        }
        worker = Service(name, [sys.executable, "-m", "worker"], self.log_dir, env).start()
        self.worker_metrics_ports.append(metrics_port)
        self.workers.append(worker)
        if wait:
            self.wait_for_workers(sum(w.alive() for w in self.workers), worker)
        return worker

    def wait_for_workers(self, count: int, watch: Service | None = None) -> None:
        watch = watch or (self.workers[-1] if self.workers else None)
        wait_until(
            lambda: workers_announced(self.redis_url) >= count, 180, f"{count} worker(s)", watch
        )

    def metrics_targets(self) -> dict[str, list[str]]:
        """What Prometheus scrapes, by job name: the API and every worker started (host:port)."""
        return {
            "kennel-api": [f"{self.api_host}:{self.api_port}"],
            "kennel-worker": [f"127.0.0.1:{port}" for port in self.worker_metrics_ports],
            "kennel-webhooks": [f"127.0.0.1:{self.webhooks_metrics_port}"],
        }

    def services(self) -> list[Service]:
        """Every service started, in stopping order: the API, the workers, the webhook
        deliverer, then Redis."""
        running = [*([self.api] if self.api else []), *self.workers]
        running += [self.webhooks] if self.webhooks else []
        return [*running, *([self.embedded.service] if self.embedded else [])]

    def metrics_urls(self) -> dict[str, str]:
        """Where each process serves its Prometheus metrics, by service name."""
        urls = {"api": f"{self.api_url}/metrics"}
        for worker, port in zip(self.workers, self.worker_metrics_ports, strict=True):
            urls[worker.name] = f"http://127.0.0.1:{port}/metrics"
        urls["webhooks"] = f"http://127.0.0.1:{self.webhooks_metrics_port}/metrics"
        return urls

    def stop(self) -> None:
        """Stop everything started, always: no restart can begin once this holds the lock, and
        one service failing to stop does not keep the others running."""
        self._stopping.set()
        with self._lifecycle:
            failures: list[BaseException] = []
            for service in self.services():  # the API, the workers, then Redis
                try:
                    service.stop()
                except Exception as exc:  # stop the rest, then report it
                    failures.append(exc)
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=5)
        if failures:
            raise failures[0]

    def __enter__(self) -> LocalSystem:
        return self.start()

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
