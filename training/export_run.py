"""Export a training run (RUN_DIR/best.pt) to a model directory the workers serve.

The preprocessing comes from the run's resolved config, so the worker feeds the model what
validation fed it: resize the short side to round(input_size / crop_pct), center-crop.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from training import checkpoint
from training.config import FitConfig
from training.export import Probabilities, write_model_dir
from training.fit import RUN_FILE
from training.labelmap import readable
from training.quantize import calibration_files, quantize_model_dir
from training.runlog import read_metrics
from training.tracking import log_to_run
from worker.modeldir import CARD_FILE, LABELS_FILE, PREPROCESS_FILE, ModelDir, PreprocessConfig

log = logging.getLogger(__name__)


def preprocess_of(config: FitConfig) -> PreprocessConfig:
    assert config.input_size is not None and config.interpolation is not None
    assert config.mean is not None and config.std is not None
    return PreprocessConfig(
        input_size=config.input_size,
        resize=config.resize,
        interpolation=config.interpolation,
        mean=config.mean,
        std=config.std,
    )


def run_card(run_dir: Path, config: FitConfig, classes: list[str]) -> dict[str, Any]:
    run = json.loads((run_dir / RUN_FILE).read_text()) if (run_dir / RUN_FILE).is_file() else {}
    rows = read_metrics(run_dir)
    best = max(rows, key=lambda r: r["val_acc"]) if rows else {}
    counts = run.get("data", {}).get("counts", {})
    return {
        "description": f"{config.model} fine-tuned on {len(classes)} classes",
        "architecture": config.model,
        "weights": f"initialised from {run.get('weights', 'unknown')}, fine-tuned by kennel",
        "training_data": {
            "path": str(config.data),
            "classes": classes,
            "images": {split: sum(c.values()) for split, c in counts.items()},
            "skipped": len(run.get("data", {}).get("skipped", [])),
            "duplicates": len(run.get("data", {}).get("duplicates", [])),
        },
        "training": {
            "epochs": len(rows),
            "distilled_from": str(config.distill.teacher) if config.distill.teacher else None,
            "config": config.model_dump(mode="json"),
        },
        "metrics": {"best_epoch": best, "last_epoch": rows[-1] if rows else {}},
        "made_by": f"python -m training export {run_dir}",
        "mlflow_run_id": run.get("mlflow_run_id"),
    }


def export_run(run_dir: Path, out: Path, int8: bool = False) -> list[ModelDir]:
    """Write `out` (and `out`-int8 when asked); return the model directories written."""
    net, config, classes = checkpoint.load_network(run_dir)
    model = write_model_dir(
        Probabilities(net),
        out,
        [readable(c) for c in classes],
        preprocess_of(config),
        run_card(run_dir, config, classes),
    )
    log.info("exported %s to %s", run_dir, out)
    files = [("model", model.path / name) for name in (CARD_FILE, LABELS_FILE, PREPROCESS_FILE)]
    log_to_run(model.card.get("mlflow_run_id"), files)
    written = [model]
    if int8:
        calibration = calibration_files(config.data / "val")  # the run's val images, if still there
        written.append(quantize_model_dir(model, out.with_name(f"{out.name}-int8"), calibration))
    return written
