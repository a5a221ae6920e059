"""One measurement: the load generator at one concurrency against one system, CPU per process.

The load generator (`bench.loadgen`) runs as its own process so that its CPU is measured apart
from the servers'. It loads its images, says `ready`, and starts when told; every process's
CPU time is read just before and just after the load.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.cpu import per_request_ms, snapshot
from bench.loadgen import LoadResult
from stack.processes import ROOT

LOADGEN = "load generator"


@dataclass(frozen=True)
class Target:
    """A system under test: where to send what, and which processes do the work (role: pid)."""

    name: str
    url: str
    mode: str  # bench.loadgen's --mode
    processes: dict[str, list[int]]


@dataclass(frozen=True)
class LevelRun:
    system: str
    model: str
    clients: int
    round: int
    load: LoadResult
    cpu_ms: dict[str, float]  # per answered request, by process role (the load generator too)
    mean_batch: float | None = None  # the workers' images per batch during the run (kennel)


def run_level(
    target: Target, model: str, clients: int, seconds: float, images: Path, round_: int
) -> LevelRun:
    argv = [
        sys.executable, "-m", "bench.loadgen", "--url", target.url, "--mode", target.mode,
        "--model", model, "--clients", str(clients), "--seconds", f"{seconds:g}",
        "--images", str(images),
    ]  # fmt: skip
    with subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          text=True) as loadgen:  # fmt: skip
        assert loadgen.stdin is not None and loadgen.stdout is not None
        if loadgen.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the load generator did not start (exit {loadgen.wait()})")
        pids = {**target.processes, LOADGEN: [loadgen.pid]}
        before = snapshot(pids)
        loadgen.stdin.write("go\n")
        loadgen.stdin.flush()
        line = loadgen.stdout.readline()
        after = snapshot(pids)
        loadgen.stdin.write("bye\n")
        loadgen.stdin.flush()
    if loadgen.returncode != 0 or not line:
        raise RuntimeError(f"the load generator failed (exit {loadgen.returncode})")
    load = LoadResult(**json.loads(line))
    return LevelRun(target.name, model, clients, round_, load,
                    per_request_ms(before, after, load.requests))  # fmt: skip
