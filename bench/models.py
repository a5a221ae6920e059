"""What the benchmark table says about a model, read from its directory; nothing made up."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from worker.modeldir import ModelDir

# Written by `python -m training evaluate MODEL_DIR DATA_DIR` (training/evaluate.py): top-1
# `accuracy` over `n_images`.
EVAL_FILE = Path("eval") / "metrics.json"


@dataclass(frozen=True)
class ModelFacts:
    name: str
    path: Path
    parameters: int | None
    onnx_bytes: int
    accuracy: float | None
    eval_images: int | None


def evaluated(model_path: Path) -> tuple[float | None, int | None]:
    """Top-1 accuracy and image count from MODEL_DIR/eval/metrics.json, or (None, None)."""
    path = model_path / EVAL_FILE
    if not path.is_file():
        return None, None
    metrics = json.loads(path.read_text())
    value, count = metrics.get("accuracy"), metrics.get("n_images")
    accuracy = float(value) if isinstance(value, int | float) else None
    return accuracy, (count if isinstance(count, int) else None)


def facts(model: ModelDir) -> ModelFacts:
    parameters = model.card.get("parameters")
    acc, n_images = evaluated(model.path)
    return ModelFacts(
        name=model.name,
        path=model.path,
        parameters=parameters if isinstance(parameters, int) else None,
        onnx_bytes=model.onnx_path.stat().st_size,
        accuracy=acc,
        eval_images=n_images,
    )
