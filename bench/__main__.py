"""python -m bench (`make bench`): measure every model under models/ and write BENCHMARKS.md.

For each model: its ceiling in-process (before the system starts, so nothing competes), then
Locust at each concurrency level against one LocalSystem serving all models. Progress is logged.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import ceiling, plots
from bench.load import run_locust
from bench.models import facts
from bench.report import LoadRun, ModelBench, Setup, render
from bench.totals import PrometheusTotals, TotalsSource, WorkerScrapeTotals, settled
from loadtests.traffic import TrafficMix, build
from stack.processes import ROOT
from stack.prometheus import LocalPrometheus
from stack.system import LocalSystem
from worker.modeldir import ModelDir, discover

log = logging.getLogger("bench")
CEILING_IMAGES = 64  # distinct images drawn from the traffic mix for the ceiling


@dataclass(frozen=True)
class BenchConfig:
    users: list[int]
    duration_s: float
    workers: int
    ceiling_s: float
    ceiling_batches: list[int]
    ceiling_repeats: int
    models_dir: Path
    models: list[str]
    out: Path
    plots_dir: Path
    var_dir: Path
    prometheus: bool


def parse_args(argv: list[str]) -> BenchConfig:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--users", default="1,4,16", help="concurrency levels, comma-separated")
    parser.add_argument("--duration", type=float, default=40, help="seconds per level")
    parser.add_argument(
        "--ceiling-repeats", type=int, default=2, help="passes over the batch sizes; best wins"
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--ceiling-seconds", type=float, default=8, help="per batch size")
    parser.add_argument(
        "--ceiling-batches", default="1,4,8,16", help="batch sizes to try for the ceiling"
    )
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--models", default="", help="only these models (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--plots", type=Path, default=ROOT / "docs" / "bench")
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--no-prometheus", action="store_true", help="read the workers directly")
    args = parser.parse_args(argv)
    return BenchConfig(
        users=[int(u) for u in args.users.split(",")],
        duration_s=args.duration,
        workers=args.workers,
        ceiling_s=args.ceiling_seconds,
        ceiling_batches=[int(b) for b in args.ceiling_batches.split(",")],
        ceiling_repeats=args.ceiling_repeats,
        models_dir=args.models_dir.resolve(),
        models=[m for m in args.models.split(",") if m],
        out=args.out,
        plots_dir=args.plots,
        var_dir=args.var,
        prometheus=not args.no_prometheus,
    )


def select_models(config: BenchConfig) -> list[ModelDir]:
    models = [
        m for m in discover(config.models_dir) if not config.models or m.name in config.models
    ]
    if not models:
        raise SystemExit(f"No models to benchmark under {config.models_dir}")
    return models


def measure_ceilings(config: BenchConfig, models: list[ModelDir]) -> list[ModelBench]:
    """Each model's best over `ceiling_repeats` passes; the models take turns within a pass,
    so a busy moment on a shared machine lowers one measurement, not one model's ceiling."""
    mix = TrafficMix(build(config.var_dir / "images"), seed=0)
    images = [image.data for image in mix.sample(CEILING_IMAGES)]
    found: dict[str, ceiling.Ceiling] = {}
    for n in range(1, config.ceiling_repeats + 1):
        for model in models:
            log.info("ceiling of %s, pass %d: preprocessing + ONNX Runtime in-process ...",
                     model.name, n)  # fmt: skip
            rate = ceiling.best(model, images, config.ceiling_s, config.ceiling_batches)
            log.info("  %.1f images/s (batches of %d)", rate.images_per_s, rate.batch_size)
            if model.name not in found or rate.images_per_s > found[model.name].images_per_s:
                found[model.name] = rate
    return [
        ModelBench(facts(m), found[m.name].images_per_s, found[m.name].batch_size) for m in models
    ]


def totals_source(
    config: BenchConfig, system: LocalSystem, stack: contextlib.ExitStack
) -> TotalsSource:
    if config.prometheus and shutil.which("prometheus"):
        prometheus = LocalPrometheus(config.var_dir / "prometheus", system.metrics_targets())
        return PrometheusTotals(stack.enter_context(prometheus))
    log.warning("no Prometheus: reading batch sizes and failures from the workers' /metrics")
    return WorkerScrapeTotals([f"http://127.0.0.1:{p}" for p in system.worker_metrics_ports])


def measure_load(config: BenchConfig, benches: list[ModelBench]) -> str:
    env = {"KENNEL_MODELS_DIR": str(config.models_dir)}
    system = LocalSystem(config.var_dir / "system", workers=config.workers, env=env,
                         persist_redis=False)  # fmt: skip
    log.info("starting kennel: embedded Redis, %d worker(s), the API ...", config.workers)
    with system, contextlib.ExitStack() as stack:
        source = totals_source(config, system, stack)
        for (
            users
        ) in config.users:  # models take turns, so a busy moment hits one run, not one model
            for bench in benches:
                bench.runs.append(run_level(config, system, source, bench.facts.name, users))
    return source.name


def run_level(
    config: BenchConfig, system: LocalSystem, source: TotalsSource, model: str, users: int
) -> LoadRun:
    log.info("%s, %d user(s), %gs ...", model, users, config.duration_s)
    before = settled(source, model)
    load = run_locust(system.api_url, model, users, config.duration_s,
                      config.var_dir / "locust", config.var_dir / "images")  # fmt: skip
    worker = settled(source, model) - before
    log.info(
        "  %d jobs, %.2f jobs/s, p50 %.0f ms, p95 %.0f ms, p99 %.0f ms, mean batch %s, "
        "%d failed (client), %.0f failed (workers)",
        load.jobs, load.jobs_per_s, load.p50_ms, load.p95_ms, load.p99_ms,
        "n/a" if worker.mean_batch is None else f"{worker.mean_batch:.2f}",
        load.failures, worker.failed,
    )  # fmt: skip
    return LoadRun(load, worker, os.getloadavg()[0])


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    argv = sys.argv[1:] if argv is None else argv
    config = parse_args(argv)
    load_at_start = os.getloadavg()[0]
    benches = measure_ceilings(config, select_models(config))
    source = measure_load(config, benches)
    figures = [
        plots.throughput(benches, config.plots_dir / "throughput.png"),
        plots.latency(benches, config.plots_dir / "latency.png"),
    ]
    setup = Setup(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=shlex.join(["python", "-m", "bench", *argv]),
        workers=config.workers,
        duration_s=config.duration_s,
        totals_source=source,
        load_average=(load_at_start, os.getloadavg()[0]),
    )
    config.out.write_text(render(benches, setup, figures, config.out.resolve().parent))
    log.info("wrote %s and %s", config.out, ", ".join(str(f) for f in figures))


if __name__ == "__main__":
    main()
