"""Locust, headless, as a subprocess: one run of JobUser at one concurrency against one model."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from loadtests import JOB_NAME
from stack.processes import ROOT

LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"


@dataclass(frozen=True)
class LoadResult:
    users: int
    jobs: int
    failures: int
    jobs_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def run_locust(
    host: str, model: str, users: int, duration_s: float, out_dir: Path, images_dir: Path
) -> LoadResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = out_dir / f"{model}-u{users}"
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "JobUser",
        "--headless", "--only-summary", "--loglevel", "WARNING",
        "-u", str(users), "-r", str(users), "-t", f"{duration_s:g}s",
        "--stop-timeout", "60",  # users finish the job they are on: every job is counted
        "--host", host, "--csv", str(prefix),
    ]  # fmt: skip
    env = {**os.environ, "KENNEL_LOADTEST_MODEL": model, "KENNEL_LOADTEST_IMAGES": str(images_dir)}
    log_path = prefix.with_suffix(".log")
    with log_path.open("wb") as log:
        subprocess.run(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    return parse_stats(prefix.parent / f"{prefix.name}_stats.csv", users, log_path)


def parse_stats(stats_csv: Path, users: int, log_path: Path) -> LoadResult:
    if not stats_csv.is_file():
        raise RuntimeError(f"Locust wrote no {stats_csv.name}; see {log_path}")
    with stats_csv.open() as f:
        row = next((r for r in csv.DictReader(f) if r["Name"] == JOB_NAME), None)
    if row is None or int(row["Request Count"]) == 0:
        raise RuntimeError(f"Locust finished no job at {users} users; see {log_path}")
    return LoadResult(
        users=users,
        jobs=int(row["Request Count"]),
        failures=int(row["Failure Count"]),
        jobs_per_s=float(row["Requests/s"]),
        p50_ms=float(row["50%"]),
        p95_ms=float(row["95%"]),
        p99_ms=float(row["99%"]),
    )
