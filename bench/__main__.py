"""python -m bench (`make bench`): measure every model under models/ and write BENCHMARKS.md.

One run, one machine, side by side: the in-process ceiling, a naive HTTP server with no queue
(`bench.naive`), kennel `POST /predict` and kennel `POST /jobs` + long-poll, at each number of
closed-loop clients. Everything runs for `--rounds` rounds; in each round the ceilings come
first, then every (system, model, clients) measurement in a shuffled order, so a busy moment on
a shared machine lowers single measurements; the report quotes medians over the rounds.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shlex
import sys
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bench import ceiling, plots
from bench.load import LevelRun, Target, run_level
from bench.models import facts
from bench.naive import NaiveServer
from bench.report import Setup, percentile, render, summarise, update_readme
from bench.totals import WorkerScrapeTotals
from loadtests.traffic import TrafficMix, build
from stack.processes import ROOT
from stack.system import LocalSystem
from worker.modeldir import ModelDir, discover

log = logging.getLogger("bench")
SAMPLE_IMAGES = 64  # distinct images drawn from the traffic mix, sent by every system
WARMUP_S = 1.0


@dataclass(frozen=True)
class BenchConfig:
    clients: list[int]
    seconds: float
    rounds: int
    workers: int
    ceiling_s: float
    ceiling_batches: list[int]
    models_dir: Path
    models: list[str]
    out: Path
    plots_dir: Path
    var_dir: Path
    readme: Path | None


def _ints(text: str) -> list[int]:
    return [int(n) for n in text.split(",") if n]


def parse_args(argv: list[str]) -> BenchConfig:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    add = parser.add_argument
    add("--clients", default="1,8,32", help="concurrent closed-loop clients, comma-separated")
    add("--seconds", type=float, default=15, help="seconds per measurement")
    add("--rounds", type=int, default=3, help="every measurement this many times; medians")
    add("--workers", type=int, default=1, help="kennel worker processes")
    add("--ceiling-seconds", type=float, default=3, help="per batch size, per round")
    add("--ceiling-batches", default="1,4,8,16", help="batch sizes tried for the ceiling")
    add("--models-dir", type=Path, default=ROOT / "models")
    add("--models", default="", help="only these models, comma-separated (default: all)")
    add("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    add("--plots", type=Path, default=ROOT / "docs" / "bench")
    add("--var", type=Path, default=ROOT / "var" / "bench")
    add("--readme", type=Path, default=ROOT / "README.md", help="its table is regenerated")
    add("--no-readme", action="store_true", help="leave the README alone")
    args = parser.parse_args(argv)
    return BenchConfig(
        clients=_ints(args.clients),
        seconds=args.seconds,
        rounds=args.rounds,
        workers=args.workers,
        ceiling_s=args.ceiling_seconds,
        ceiling_batches=_ints(args.ceiling_batches),
        models_dir=args.models_dir.resolve(),
        models=[m for m in args.models.split(",") if m],
        out=args.out,
        plots_dir=args.plots,
        var_dir=args.var,
        readme=None if args.no_readme else args.readme,
    )


def select_models(config: BenchConfig) -> list[ModelDir]:
    models = [
        m for m in discover(config.models_dir) if not config.models or m.name in config.models
    ]
    if not models:
        raise SystemExit(f"No models to benchmark under {config.models_dir}")
    return models


def write_sample(var_dir: Path) -> Path:
    """The images every system is sent (and the ceiling classifies), as files for the client."""
    sample = var_dir / "sample"
    sample.mkdir(parents=True, exist_ok=True)
    mix = TrafficMix(build(var_dir / "images"), seed=0)
    for i, image in enumerate(mix.sample(SAMPLE_IMAGES)):
        (sample / f"{i:03d}-{image.size_class}.jpg").write_bytes(image.data)
    return sample


def targets(system: LocalSystem, naive: NaiveServer) -> list[Target]:
    assert system.api is not None and system.embedded is not None
    kennel = {
        "API": [system.api.pid],
        "worker": [w.pid for w in system.workers],
        "Redis": [system.embedded.service.pid],
    }
    return [
        Target("naive server (no queue)", naive.url, "predict", {"server": [naive.pid]}),
        Target("kennel POST /predict", system.api_url, "predict", kennel),
        Target("kennel POST /jobs + long-poll", system.api_url, "jobs", kennel),
    ]


class Bench:
    def __init__(self, config: BenchConfig, models: list[ModelDir], sample: Path) -> None:
        self.config, self.models, self.sample = config, models, sample
        self.images = [p.read_bytes() for p in sorted(sample.glob("*.jpg"))]
        self.ceilings: dict[str, list[ceiling.Ceiling]] = {m.name: [] for m in models}
        self.runs: list[LevelRun] = []

    def measure(self, systems: list[Target], totals: WorkerScrapeTotals) -> None:
        for target in systems:  # connections, sessions and caches warm before anything counts
            for model in self.models:
                run_level(target, model.name, 1, WARMUP_S, self.sample, 0)
        for round_ in range(1, self.config.rounds + 1):
            self.measure_ceilings(round_)
            plan = [(t, m, c) for t in systems for m in self.models for c in self.config.clients]
            random.Random(round_).shuffle(plan)
            for target, model, clients in plan:
                self.runs.append(self.measure_one(target, model.name, clients, round_, totals))

    def measure_ceilings(self, round_: int) -> None:
        for model in self.models:
            found = ceiling.best(model, self.images, self.config.ceiling_s,
                                 self.config.ceiling_batches)  # fmt: skip
            log.info("round %d, %s ceiling: %.1f images/s (batch %d), %.1f CPU-ms/image",
                     round_, model.name, found.images_per_s, found.batch_size,
                     found.cpu_ms_per_image)  # fmt: skip
            self.ceilings[model.name].append(found)

    def measure_one(
        self, target: Target, model: str, clients: int, round_: int, totals: WorkerScrapeTotals
    ) -> LevelRun:
        kennel = "worker" in target.processes
        before = totals.totals(model) if kennel else None
        run = run_level(target, model, clients, self.config.seconds, self.sample, round_)
        if before is not None:
            run = replace(run, mean_batch=(totals.totals(model) - before).mean_batch)
        log.info(
            "round %d, %s, %s, %d client(s): %.1f/s, p50 %.0f ms, %d errors%s, CPU-ms/request %s",
            round_, target.name, model, clients, run.load.per_s,
            percentile(run.load.latencies_ms, 50), run.load.errors,
            f" ({run.load.first_error})" if run.load.errors else "",
            ", ".join(f"{role} {ms:.1f}" for role, ms in run.cpu_ms.items()),
        )  # fmt: skip
        return run


def run_bench(config: BenchConfig, argv: list[str]) -> None:
    models = select_models(config)
    sample = write_sample(config.var_dir)
    bench = Bench(config, models, sample)
    load_at_start = os.getloadavg()[0]
    env = {"KENNEL_MODELS_DIR": str(config.models_dir)}
    system = LocalSystem(config.var_dir / "system", workers=config.workers, env=env,
                         persist_redis=False)  # fmt: skip
    naive = NaiveServer(config.models_dir, config.var_dir / "system" / "logs")
    log.info("starting kennel (embedded Redis, %d worker(s), the API) and the naive server ...",
             config.workers)  # fmt: skip
    with system, naive:
        scrape = WorkerScrapeTotals([f"http://127.0.0.1:{p}" for p in system.worker_metrics_ports])
        bench.measure(targets(system, naive), scrape)
    setup = Setup(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=shlex.join(["python", "-m", "bench", *argv]),
        workers=config.workers,
        seconds=config.seconds,
        rounds=config.rounds,
        images=len(bench.images),
        load_average=(load_at_start, os.getloadavg()[0]),
    )
    summary = summarise([facts(m) for m in models], bench.ceilings, bench.runs)
    figures = [
        plots.ratio(summary, config.plots_dir / "throughput.png"),
        plots.latency(summary, config.plots_dir / "latency.png"),
    ]
    config.out.write_text(render(summary, setup, figures, config.out.resolve().parent))
    raw = config.var_dir / "runs.json"
    raw.write_text(json.dumps({"ceilings": {m: [asdict(c) for c in cs] for m, cs in
                                            bench.ceilings.items()},
                               "runs": [asdict(r) for r in bench.runs]}))  # fmt: skip
    if config.readme is not None:
        update_readme(config.readme, summary, setup)
    log.info("wrote %s and %s", config.out, ", ".join(str(f) for f in figures))


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    argv = sys.argv[1:] if argv is None else argv
    run_bench(parse_args(argv), argv)


if __name__ == "__main__":
    main()
