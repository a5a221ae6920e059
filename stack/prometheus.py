"""A real Prometheus scraping a LocalSystem: for the metrics tests and the benchmark.

It reads the same rules as production (deploy/prometheus/rules.yml), scrapes every second, and
finds the API and the workers from `LocalSystem.metrics_targets()` (static targets: the process
that starts the workers knows their ports). `find_prometheus` installs the Debian package when
the binary is missing and we are root, and fails loudly otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from stack.processes import ROOT, Service, free_port, wait_until

RULES = ROOT / "deploy" / "prometheus" / "rules.yml"


class PrometheusMissing(RuntimeError):
    pass


def find_prometheus() -> Path:
    """The `prometheus` binary: on PATH, or installed with apt-get when we are root."""
    found = shutil.which("prometheus")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "prometheus"], check=True, env=env)
        found = shutil.which("prometheus")
    if found is None:
        raise PrometheusMissing(
            "No `prometheus` binary: install it (Debian/Ubuntu: apt-get install prometheus)."
        )
    return Path(found)


def scrape_config(
    targets: dict[str, list[str]], rules: Path = RULES, interval_s: float = 1
) -> dict[str, Any]:
    """A Prometheus configuration (as JSON, which is YAML) with static targets by job name."""
    interval = f"{interval_s:g}s"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": hosts}]}
            for job, hosts in targets.items()
        ],
    }


class LocalPrometheus:
    def __init__(
        self,
        var_dir: Path,
        targets: dict[str, list[str]],
        rules: Path = RULES,
        interval_s: float = 1,
    ) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        var_dir.mkdir(parents=True, exist_ok=True)
        config = var_dir / "prometheus.yml"
        config.write_text(json.dumps(scrape_config(targets, rules, interval_s), indent=2))
        argv = [
            str(find_prometheus()),
            f"--config.file={config}",
            f"--storage.tsdb.path={var_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=1d",
        ]
        self.service = Service(f"prometheus-{self.port}", argv, var_dir / "logs", cwd=var_dir)

    def start(self) -> LocalPrometheus:
        self.service.start()
        wait_until(self._ready, 30, "prometheus", self.service)
        return self

    def stop(self) -> None:
        self.service.stop()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector; raises on a PromQL error."""
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise ValueError(f"{expr}: {body.get('error', body)}")
        result = body["data"]["result"]
        return result if isinstance(result, list) else [{"value": result}]

    def scalar(self, expr: str) -> float | None:
        """The single value of `expr`, or None when it has no sample."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def targets_up(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/api/v1/targets", timeout=5) as response:
            active = json.load(response)["data"]["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
