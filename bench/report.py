"""BENCHMARKS.md: what was measured, on what, how, and the project kennel replaces as reference."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from bench.load import LoadResult
from bench.models import ModelFacts
from bench.totals import Totals

# Measured by the project kennel replaces, on 100 images, Intel i5-10400, one request at a time.
REFERENCE = [
    ("efficientnet_b4", 17.6, 71.0, 0.960, 399, 0.100),
    ("efficientnet_b3", 10.7, 43.4, 0.957, 303, 0.132),
    ("convnext_tiny", 27.8, 111.4, 0.961, 300, 0.133),
    ("efficientnet_b2", 7.7, 31.3, 0.953, 221, 0.181),
    ("efficientnet_b1", 6.5, 26.5, 0.954, 220, 0.182),
    ("efficientnet_b0", 4.0, 16.4, 0.947, 161, 0.249),
]


@dataclass
class LoadRun:
    load: LoadResult
    worker: Totals  # what the workers did during the run (a difference of totals)
    load_average: float  # the machine's 1-minute load average as the run ended


@dataclass
class ModelBench:
    facts: ModelFacts
    ceiling_images_per_s: float
    ceiling_batch_size: int
    runs: list[LoadRun] = field(default_factory=list)

    @property
    def best(self) -> LoadRun | None:
        return max(self.runs, key=lambda r: r.load.jobs_per_s, default=None)


@dataclass(frozen=True)
class Setup:
    date: str
    command: str
    workers: int
    duration_s: float
    totals_source: str
    load_average: tuple[float, float]  # the machine's 1-minute load average at start and end


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                 if ln.startswith("model name")]  # fmt: skip
        cpu = f"{names[0]}, {len(names)} logical cores" if names else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GB RAM"
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}{memory}, {system}, Python {platform.python_version()}"


def _num(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def model_table(benches: list[ModelBench]) -> list[str]:
    lines = [
        "| model | params (M) | ONNX (MB) | accuracy | ceiling (img/s) | at batch size "
        "| best system (jobs/s) | system / ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b in benches:
        f, best = b.facts, b.best
        params = None if f.parameters is None else f.parameters / 1e6
        acc = _num(f.accuracy, ".3f") + (f" ({f.eval_images} images)" if f.eval_images else "")
        rps = None if best is None else best.load.jobs_per_s
        ratio = None if rps is None else rps / b.ceiling_images_per_s
        lines.append(
            f"| {f.name} | {_num(params, '.2f')} | {f.onnx_bytes / 1e6:.1f} | {acc} "
            f"| {b.ceiling_images_per_s:.1f} | {b.ceiling_batch_size} | {_num(rps, '.2f')} "
            f"| {_num(ratio, '.0%')} |"
        )
    return lines


def load_table(benches: list[ModelBench]) -> list[str]:
    lines = [
        "| model | users | jobs | jobs/s | p50 (ms) | p95 (ms) | p99 (ms) | mean batch "
        "| failed jobs (workers) | failed (client) | system / ceiling | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b in benches:
        for run in b.runs:
            r, w = run.load, run.worker
            lines.append(
                f"| {b.facts.name} | {r.users} | {r.jobs} | {r.jobs_per_s:.2f} | {r.p50_ms:.0f} "
                f"| {r.p95_ms:.0f} | {r.p99_ms:.0f} | {_num(w.mean_batch, '.2f')} | {w.failed:.0f} "
                f"| {r.failures} | {r.jobs_per_s / b.ceiling_images_per_s:.0%} "
                f"| {run.load_average:.1f} |"
            )
    return lines


def reference_table() -> list[str]:
    lines = [
        "| model | params (M) | size (MB) | accuracy | time for 100 images (s) | requests/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {n} | {p} | {s} | {a:.3f} | {t} | {r:.3f} |" for n, p, s, a, t, r in REFERENCE]
    return lines


def render(benches: list[ModelBench], setup: Setup, plots: list[Path], root: Path) -> str:
    images = "\n".join(f"![{p.stem}]({p.relative_to(root) if p.is_relative_to(root) else p})"
                       for p in plots)  # fmt: skip
    return "\n".join(
        [
            "# Benchmarks",
            "",
            f"Measured {setup.date} on {machine()}, with `{setup.command}`: one kennel "
            f"(embedded Redis, {setup.workers} worker process(es), the API) on this machine, "
            f"Locust on the same machine, {setup.duration_s:g} s per concurrency level. "
            f"Mean batch sizes and failed jobs are read from {setup.totals_source}. "
            "How it is measured: [docs/benchmark.md](docs/benchmark.md).",
            "",
            f"The 1-minute load average was {setup.load_average[0]:.1f} when the run began and "
            f"{setup.load_average[1]:.1f} when it ended, on {os.cpu_count()} cores; the last "
            "column below is the load average as each level ended. The benchmark itself (a busy "
            "worker, the API, Redis, Locust, Prometheus) accounts for about 2 to 4; more means "
            "other work shared the machine and the level's numbers are low.",
            "",
            "## Models",
            "",
            *model_table(benches),
            "",
            "## Under load (POST /jobs, then GET /jobs/{id} until the job ends)",
            "",
            *load_table(benches),
            "",
            images,
            "",
            "## Reference: the project kennel replaces",
            "",
            "Its own numbers, measured on 100 images on an Intel i5-10400 CPU (not on this "
            "machine, so not comparable row by row): one request at a time, no batching.",
            "",
            *reference_table(),
            "",
        ]
    )
