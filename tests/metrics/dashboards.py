"""The PromQL inside kennel's Grafana dashboards and Prometheus rules, ready to evaluate."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from stack.processes import ROOT

DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
PROMETHEUS = ROOT / "deploy" / "prometheus"
# Grafana's macros and our variables, as Grafana would expand them with "All" selected.
MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "5m", "$model": ".*"}
LABEL_VALUES = re.compile(r"label_values\((?P<metric>[^,()]+(?:\{[^}]*\})?),\s*\w+\)")


def expand(expr: str) -> str:
    for macro, value in MACROS.items():
        expr = expr.replace(macro, value)
    return expr


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_queries(path: Path) -> dict[str, str]:
    """Every query of a dashboard by where it is ("panel title / refId"), macros expanded."""
    dashboard = json.loads(path.read_text())
    queries = {}
    for panel in _panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            queries[f"{panel['title']} / {target['refId']}"] = expand(target["expr"])
    for variable in dashboard.get("templating", {}).get("list", []):
        match = LABEL_VALUES.fullmatch(variable["definition"])
        assert match, f"variable {variable['name']}: unsupported query {variable['definition']}"
        queries[f"variable {variable['name']}"] = match["metric"]
    return queries


def all_dashboard_queries() -> dict[str, str]:
    return {
        f"{path.name}: {where}": expr
        for path in sorted(DASHBOARDS.glob("*.json"))
        for where, expr in dashboard_queries(path).items()
    }


def recording_rules(rules: Path = PROMETHEUS / "rules.yml") -> dict[str, str]:
    """Recording rules: the recorded name and the expression it records."""
    groups = yaml.safe_load(rules.read_text())["groups"]
    return {r["record"]: r["expr"] for g in groups for r in g["rules"] if "record" in r}


def provisioning(kind: str) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((PROVISIONING / kind).glob("*.yml"))]
