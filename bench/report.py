"""BENCHMARKS.md and the README's table: medians over the rounds, each system vs the ceiling."""

from __future__ import annotations

import os
import platform
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.ceiling import Ceiling
from bench.load import LOADGEN, LevelRun
from bench.models import ModelFacts

# Measured by the project kennel replaces, on 100 images, Intel i5-10400, one request at a time.
REFERENCE = [
    ("efficientnet_b4", 17.6, 71.0, 0.960, 399, 0.100),
    ("efficientnet_b3", 10.7, 43.4, 0.957, 303, 0.132),
    ("convnext_tiny", 27.8, 111.4, 0.961, 300, 0.133),
    ("efficientnet_b2", 7.7, 31.3, 0.953, 221, 0.181),
    ("efficientnet_b1", 6.5, 26.5, 0.954, 220, 0.182),
    ("efficientnet_b0", 4.0, 16.4, 0.947, 161, 0.249),
]
ROLES = ["API", "worker", "Redis", "server"]  # the processes that serve, in table order
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Setup:
    date: str
    command: str
    workers: int
    seconds: float
    rounds: int
    images: int
    load_average: tuple[float, float]  # the machine's 1-minute load average at start and end


@dataclass(frozen=True)
class ModelCeiling:
    facts: ModelFacts
    images_per_s: float  # median over the rounds
    batch_size: int  # the batch size the rounds found best most often
    cpu_ms: float


@dataclass(frozen=True)
class Row:
    """One (system, model, clients): medians over the rounds."""

    system: str
    model: str
    clients: int
    per_s: float
    ratio: float  # per_s over the model's median ceiling
    p50_ms: float
    p99_ms: float
    cpu_ms: dict[str, float]  # per request, by role
    served_cpu_ms: float  # every serving process together (not the load generator)
    mean_batch: float | None
    requests: int  # over all rounds
    errors: int


@dataclass(frozen=True)
class Summary:
    ceilings: list[ModelCeiling]
    rows: list[Row]

    @property
    def systems(self) -> list[str]:
        return list(dict.fromkeys(r.system for r in self.rows))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _row(runs: list[LevelRun], ceiling: ModelCeiling) -> Row:
    first = runs[0]
    per_s = _median([r.load.per_s for r in runs])
    roles = [role for role in first.cpu_ms if role != LOADGEN]
    batches = [r.mean_batch for r in runs if r.mean_batch is not None]
    return Row(
        system=first.system,
        model=first.model,
        clients=first.clients,
        per_s=per_s,
        ratio=per_s / ceiling.images_per_s,
        p50_ms=_median([percentile(r.load.latencies_ms, 50) for r in runs]),
        p99_ms=_median([percentile(r.load.latencies_ms, 99) for r in runs]),
        cpu_ms={role: _median([r.cpu_ms[role] for r in runs]) for role in first.cpu_ms},
        served_cpu_ms=_median([sum(r.cpu_ms[role] for role in roles) for r in runs]),
        mean_batch=_median(batches) if batches else None,
        requests=sum(r.load.requests for r in runs),
        errors=sum(r.load.errors for r in runs),
    )


def summarise(
    models: list[ModelFacts], ceilings: dict[str, list[Ceiling]], runs: list[LevelRun]
) -> Summary:
    found = [
        ModelCeiling(
            facts=f,
            images_per_s=_median([c.images_per_s for c in ceilings[f.name]]),
            batch_size=Counter(c.batch_size for c in ceilings[f.name]).most_common(1)[0][0],
            cpu_ms=_median([c.cpu_ms_per_image for c in ceilings[f.name]]),
        )
        for f in models
    ]
    by_model = {c.facts.name: c for c in found}
    groups: dict[tuple[str, str, int], list[LevelRun]] = {}
    for run in runs:
        groups.setdefault((run.system, run.model, run.clients), []).append(run)
    rows = [_row(group, by_model[group[0].model]) for group in groups.values()]
    systems = list(dict.fromkeys(r.system for r in runs))
    rows.sort(key=lambda r: (r.model, systems.index(r.system), r.clients))
    return Summary(found, rows)


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


def model_table(summary: Summary) -> list[str]:
    lines = [
        "| model | params (M) | ONNX (MB) | accuracy | ceiling (img/s) | at batch size "
        "| ceiling CPU-ms/image |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in summary.ceilings:
        f = c.facts
        params = None if f.parameters is None else f.parameters / 1e6
        acc = _num(f.accuracy, ".3f") + (f" ({f.eval_images} images)" if f.eval_images else "")
        lines.append(
            f"| {f.name} | {_num(params, '.2f')} | {f.onnx_bytes / 1e6:.1f} | {acc} "
            f"| {c.images_per_s:.1f} | {c.batch_size} | {c.cpu_ms:.1f} |"
        )
    return lines


def load_table(summary: Summary) -> list[str]:
    cpu_heads = " | ".join(f"CPU-ms/req {role}" for role in ROLES)
    lines = [
        f"| model | system | clients | req/s | ÷ ceiling | p50 (ms) | p99 (ms) | {cpu_heads} "
        "| CPU-ms/req served | CPU-ms/req load generator | mean batch | requests | errors |",
        "|---|---|---:|---:|---:|---:|---:|" + "---:|" * (len(ROLES) + 6),
    ]
    for r in summary.rows:
        cpu = " | ".join(_num(r.cpu_ms.get(role), ".1f") for role in ROLES)
        lines.append(
            f"| {r.model} | {r.system} | {r.clients} | {r.per_s:.1f} | {r.ratio:.2f} "
            f"| {r.p50_ms:.0f} | {r.p99_ms:.0f} | {cpu} | {r.served_cpu_ms:.1f} "
            f"| {r.cpu_ms[LOADGEN]:.1f} | {_num(r.mean_batch, '.2f')} | {r.requests} "
            f"| {r.errors} |"
        )
    return lines


def ratio_table(summary: Summary) -> list[str]:
    """The README's table: each system's share of the ceiling at each concurrency."""
    clients = sorted({r.clients for r in summary.rows})
    top = clients[-1]
    lines = [
        "| model | system | "
        + " | ".join(f"÷ ceiling, {c} client{'s' if c > 1 else ''}" for c in clients)
        + f" | p99 at {top} (ms) | CPU-ms/request at {top} (served) |",
        "|---|---|" + "---:|" * (len(clients) + 2),
    ]
    for c in summary.ceilings:
        lines.append(
            f"| {c.facts.name} | in-process ceiling ({c.images_per_s:.1f} img/s) | "
            + " | ".join("1.00" for _ in clients)
            + f" | - | {c.cpu_ms:.1f} |"
        )
        for system in summary.systems:
            rows = {r.clients: r for r in summary.rows if r.model == c.facts.name
                    and r.system == system}  # fmt: skip
            ratios = " | ".join(f"{rows[n].ratio:.2f}" if n in rows else "-" for n in clients)
            last = rows.get(top)
            tail = "- | -" if last is None else f"{last.p99_ms:.0f} | {last.served_cpu_ms:.1f}"
            lines.append(f"| {c.facts.name} | {system} | {ratios} | {tail} |")
    return lines


def reference_table() -> list[str]:
    lines = [
        "| model | params (M) | size (MB) | accuracy | time for 100 images (s) | requests/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {n} | {p} | {s} | {a:.3f} | {t} | {r:.3f} |" for n, p, s, a, t, r in REFERENCE]
    return lines


def describe(setup: Setup) -> str:
    return (
        f"Measured {setup.date} on {machine()}, with `{setup.command}`: {setup.rounds} "
        f"round(s) of {setup.seconds:g} s per measurement, medians over the rounds; "
        f"{setup.images} JPEGs from the traffic mix; one kennel (embedded Redis, "
        f"{setup.workers} worker process(es), the API), the naive server and the load generator "
        "all on this machine. The 1-minute load average was "
        f"{setup.load_average[0]:.1f} at the start and {setup.load_average[1]:.1f} at the end "
        f"on {os.cpu_count()} cores: this machine is shared with other work, so single numbers "
        "are noisy." + oversubscribed(setup)
    )


def oversubscribed(setup: Setup) -> str:
    """The caveat when other work kept more processes runnable than there are cores."""
    cores = os.cpu_count() or 1
    if max(setup.load_average) <= 1.5 * cores:
        return ""
    return (
        " The load average was well above the number of cores: the scheduler then shares the "
        "cores by thread, so a server with many threads (the naive server's thread pool, the "
        "worker's) gets more of the machine than the ceiling's few, and shares of the ceiling "
        "above 1.00 are that artifact; CPU-ms per request is the steadier comparison."
    )


def render(summary: Summary, setup: Setup, plots: list[Path], root: Path) -> str:
    images = "\n".join(f"![{p.stem}]({p.relative_to(root) if p.is_relative_to(root) else p})"
                       for p in plots)  # fmt: skip
    return "\n".join(
        [
            "# Benchmarks",
            "",
            describe(setup) + " How it is measured: [docs/benchmark.md](docs/benchmark.md).",
            "",
            "## Models and their in-process ceilings",
            "",
            *model_table(summary),
            "",
            "## Each system against the ceiling",
            "",
            *ratio_table(summary),
            "",
            "## Every measurement (medians over the rounds; CPU-ms per answered request)",
            "",
            *load_table(summary),
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


def update_readme(readme: Path, summary: Summary, setup: Setup) -> None:
    """Replace what lies between the README's bench markers with this run's table."""
    text = readme.read_text()
    block = "\n".join([README_START, "", describe(setup), "", *ratio_table(summary), "",
                       README_END])  # fmt: skip
    pattern = re.compile(re.escape(README_START) + ".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{readme} has no {README_START} ... {README_END} block")
    readme.write_text(pattern.sub(lambda _: block, text, count=1))
