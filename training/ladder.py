"""The seed's table, reproduced (`make reproduce-seed`): fit, export and evaluate every model
of the ladder on the same data, then distil the smallest from the best, and write a table.

RUNS/MODEL/            each fit's run directory
MODELS/woof-MODEL/     each exported model directory, with eval/ (the serving code's evaluation)
RUNS/SEED_TABLE.md     the seed's columns (model, parameters, val accuracy) with the seed's own
                       figures beside kennel's, plus top-5, macro F1, epochs, training time and
                       the served ceiling (images/s through the serving code, bench.ceiling)

The system's throughput and system / ceiling come from `make bench` over MODELS/ (BENCHMARKS.md),
which `make reproduce-seed` runs afterwards.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.config import load_config
from training.evaluate import evaluate, track_evaluation, write_evaluation
from training.export_run import export_run
from training.fit import fit
from training.imagefolder import image_files

log = logging.getLogger(__name__)
CONFIGS = Path(__file__).parent / "configs"
# The seed's ladder: model -> (its Imagewoof val accuracy, expected minutes on one GPU).
# Minutes: our estimate for one A100/H100-class GPU at the configs' epochs and batch sizes,
# with 4 loader workers; not measured (no GPU was available where this was written).
SEED = {
    "efficientnet_b0": (0.947, 15),
    "efficientnet_b1": (0.954, 20),
    "efficientnet_b2": (0.953, 25),
    "efficientnet_b3": (0.957, 35),
    "efficientnet_b4": (0.960, 60),
    "convnext_tiny": (0.961, 45),
    "tf_efficientnet_lite0": (None, 15),
}
STUDENT = "tf_efficientnet_lite0"


@dataclass
class Rung:
    name: str
    model: str
    run_dir: Path
    model_dir: Path
    minutes: float = 0.0
    metrics: dict[str, Any] | None = None
    parameters: int | None = None
    ceiling: float | None = None


def _train(
    name: str, model: str, overrides: dict[str, Any], runs: Path, models: Path
) -> tuple[Rung, float]:
    config_file = CONFIGS / f"{model}.yaml"
    run_dir = runs / name
    config = load_config(
        config_file if config_file.is_file() else None,
        {**overrides, "model": model, "out": run_dir},
    )
    started = time.perf_counter()
    result = fit(config)
    rung = Rung(name, model, run_dir, models / f"woof-{name}")
    rung.minutes = (time.perf_counter() - started) / 60
    (served,) = export_run(run_dir, rung.model_dir)
    rung.parameters = served.card.get("parameters")
    evaluation = evaluate(served.path, config.data / "val")
    write_evaluation(evaluation, served.path / "eval")
    track_evaluation(evaluation, served.path, served.path / "eval")
    rung.metrics = evaluation.metrics
    return rung, result.best_val_acc


def run_ladder(
    ladder: list[str],
    student: str,
    overrides: dict[str, Any],
    runs: Path,
    models: Path,
    ceiling_s: float = 5.0,
) -> list[Rung]:
    """Fit, export and evaluate each model, then `student` distilled from the best of them."""
    rungs, best_acc, best_run = [], -1.0, runs
    for i, model in enumerate(ladder, 1):
        log.info("ladder %d/%d: %s", i, len(ladder) + 1, model)
        rung, acc = _train(model, model, overrides, runs, models)
        rungs.append(rung)
        if acc > best_acc:
            best_acc, best_run = acc, rung.run_dir
    log.info(
        "ladder %d/%d: %s distilled from %s", len(ladder) + 1, len(ladder) + 1, student, best_run
    )
    distilled = {**overrides, "distill.teacher": best_run / "best.pt"}
    rung, _ = _train(f"{student}-distilled", student, distilled, runs, models)
    rungs.append(rung)
    _measure_ceilings(rungs, Path(overrides["data"]) / "val", ceiling_s)
    write_table(rungs, runs / "SEED_TABLE.md")
    return rungs


def _measure_ceilings(rungs: list[Rung], val: Path, seconds: float) -> None:
    from bench.ceiling import best
    from worker.modeldir import ModelDir

    images = [path.read_bytes() for path in image_files(val)[:64]]
    for rung in rungs:
        model = ModelDir.load(rung.model_dir)
        rung.ceiling = best(model, images, seconds, [1, 8, 32]).images_per_s


def _cell(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def table_lines(rungs: list[Rung]) -> list[str]:
    lines = [
        "| model | parameters (M) | val accuracy | seed's val accuracy | top-5 | macro F1 "
        "| epochs | train (min) | expected on one GPU (min) | served ceiling (img/s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for rung in rungs:
        m = rung.metrics or {}
        seed_acc, gpu_minutes = SEED.get(rung.model, (None, None))
        epochs = len((rung.run_dir / "metrics.csv").read_text().splitlines()) - 1
        params = rung.parameters / 1e6 if rung.parameters else None
        lines.append(
            f"| {rung.name} | {_cell(params, '.2f')} | {_cell(m.get('accuracy'), '.4f')} "
            f"| {_cell(seed_acc, '.3f')} | {_cell(m.get('top5'), '.4f')} "
            f"| {_cell(m.get('macro_f1'), '.4f')} | {epochs} | {rung.minutes:.1f} "
            f"| {gpu_minutes if gpu_minutes is not None else 'n/a'} "
            f"| {_cell(rung.ceiling, '.1f')} |"
        )
    return lines


def write_table(rungs: list[Rung], path: Path) -> Path:
    intro = [
        "# The seed's table, reproduced by kennel",
        "",
        "Val accuracy, top-5 and macro F1: `python -m training evaluate` (the serving code) on "
        "the data's val/. Served ceiling: images/s of preprocessing + ONNX Runtime in-process on "
        "this machine (bench.ceiling, best of batch 1, 8, 32). The system's throughput and "
        "system / ceiling under load: BENCHMARKS.md, from `make bench` over the same models.",
        "",
    ]
    path.write_text("\n".join([*intro, *table_lines(rungs)]) + "\n")
    log.info("wrote %s:\n%s", path, "\n".join(table_lines(rungs)))
    return path
