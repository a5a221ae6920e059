"""What the benchmark table says about a model, read from its directory; nothing made up."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from worker.modeldir import ModelDir

EVAL_FILE = Path("eval") / "metrics.json"
# Keys `python -m training evaluate` may use for top-1 accuracy, in order of preference.
ACCURACY_KEYS = ("accuracy", "top1", "top1_accuracy", "acc")


@dataclass(frozen=True)
class ModelFacts:
    name: str
    path: Path
    parameters: int | None
    onnx_bytes: int
    accuracy: float | None
    eval_images: int | None


def accuracy(model_path: Path) -> tuple[float | None, int | None]:
    """Top-1 accuracy and image count from MODEL_DIR/eval/metrics.json, or (None, None)."""
    path = model_path / EVAL_FILE
    if not path.is_file():
        return None, None
    metrics = json.loads(path.read_text())
    value = next(
        (metrics[k] for k in ACCURACY_KEYS if isinstance(metrics.get(k), int | float)), None
    )
    count = metrics.get("n_images", metrics.get("images"))
    return (None if value is None else float(value)), (count if isinstance(count, int) else None)


def facts(model: ModelDir) -> ModelFacts:
    parameters = model.card.get("parameters")
    acc, n_images = accuracy(model.path)
    return ModelFacts(
        name=model.name,
        path=model.path,
        parameters=parameters if isinstance(parameters, int) else None,
        onnx_bytes=model.onnx_path.stat().st_size,
        accuracy=acc,
        eval_images=n_images,
    )
