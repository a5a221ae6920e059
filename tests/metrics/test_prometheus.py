"""A real Prometheus scrapes a running kennel: every dashboard query and recording rule answers.

Also `promtool` checks the shipped configuration and rules, and the Grafana provisioning refers
to the datasource the dashboards use.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.prometheus import LocalPrometheus, find_prometheus
from stack.system import LocalSystem
from tests.metrics.dashboards import (
    DASHBOARDS,
    PROMETHEUS,
    all_dashboard_queries,
    provisioning,
    recording_rules,
)

pytestmark = pytest.mark.system


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = find_prometheus().parent / "promtool"
    return subprocess.run([str(binary), *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    "check", [("check", "config", "prometheus.yml"), ("check", "rules", "rules.yml")]
)
def test_promtool_accepts_the_shipped_files(check: tuple[str, str, str]) -> None:
    *command, name = check
    result = promtool(*command, str(PROMETHEUS / name))
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_provisions_the_datasource_the_dashboards_use() -> None:
    (datasources,) = provisioning("datasources")
    uids = {d["uid"] for d in datasources["datasources"] if d["type"] == "prometheus"}
    (providers,) = provisioning("dashboards")
    assert providers["providers"][0]["type"] == "file"
    for path in DASHBOARDS.glob("*.json"):
        text = path.read_text()
        assert all(f'"uid": "{uid}"' in text for uid in uids), path


@pytest.fixture
def prometheus(system: LocalSystem, tmp_path: Path) -> Iterator[LocalPrometheus]:
    with LocalPrometheus(tmp_path / "prometheus", system.metrics_targets()) as running:
        deadline = time.monotonic() + 20
        while not running.targets_up():
            assert time.monotonic() < deadline, "Prometheus never saw every target up"
            time.sleep(0.5)
        yield running


def _short_load(http: httpx.Client, good: bytes, broken: bytes, refused: bytes) -> None:
    """A few dozen jobs, some that fail (decode_failed) and one refused upload (415)."""
    for i in range(30):
        image = broken if i % 10 == 0 else good
        assert http.post("/jobs", files={"image": image}).status_code == 202
        time.sleep(0.05)
    assert http.post("/jobs", files={"image": refused}).status_code == 415


def _missing(prometheus: LocalPrometheus, queries: dict[str, str]) -> dict[str, str]:
    return {where: expr for where, expr in queries.items() if not prometheus.query(expr)}


def test_every_dashboard_query_and_recording_rule_returns_data(
    prometheus: LocalPrometheus,
    http: httpx.Client,
    dog_jpeg: bytes,
    truncated_jpeg: bytes,
    text_file: bytes,
) -> None:
    _short_load(http, dog_jpeg, truncated_jpeg, text_file)
    rules = recording_rules()
    queries = {
        **all_dashboard_queries(),
        **{f"rule {name}": expr for name, expr in rules.items()},
        **{f"recorded {name}": name for name in rules},
    }
    assert len(queries) > 20
    deadline = time.monotonic() + 45
    while missing := _missing(prometheus, queries):
        assert time.monotonic() < deadline, f"no data for: {missing}"
        time.sleep(1)


def _rules(prometheus: LocalPrometheus) -> dict[str, dict[str, Any]]:
    with httpx.Client(base_url=prometheus.url) as client:
        groups = client.get("/api/v1/rules").json()["data"]["groups"]
    return {r["name"]: r for g in groups for r in g["rules"]}


def test_rules_evaluate_cleanly_and_no_alert_fires_on_a_healthy_system(
    prometheus: LocalPrometheus,
) -> None:
    """Before the first scrape KennelNoWorkerUp may be pending; once a worker is seen, it is not."""
    deadline = time.monotonic() + 20
    while True:
        rules = _rules(prometheus)
        alerts = {name: r["state"] for name, r in rules.items() if r["type"] == "alerting"}
        unhealthy = {name: r.get("lastError") for name, r in rules.items() if r["health"] != "ok"}
        if not unhealthy and set(alerts.values()) == {"inactive"}:
            break
        assert time.monotonic() < deadline, f"unhealthy rules {unhealthy}, alerts {alerts}"
        time.sleep(0.5)
    assert len(rules) == len(recording_rules()) + len(alerts) == 12
