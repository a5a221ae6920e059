"""The model directory: everything a worker needs to serve a model, and nothing else.

    models/NAME/
        model.onnx        input "input" (N, 3, H, W) float32, output "probabilities" (N, C)
        labels.json       C human-readable labels, in output order
        preprocess.json   how an image becomes the input (PreprocessConfig)
        card.json         where the model came from: source, license, parameters, metrics

Export writes it (training/export.py), the worker serves it, evaluation reads it, so what is
evaluated is what is served.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

MODEL_FILE = "model.onnx"
LABELS_FILE = "labels.json"
PREPROCESS_FILE = "preprocess.json"
CARD_FILE = "card.json"


class PreprocessConfig(BaseModel):
    input_size: int = Field(224, description="Square side of the model input.")
    resize: int = Field(256, description="The shorter side is resized to this before the crop.")
    crop: Literal["center"] = "center"
    interpolation: Literal["bicubic", "bilinear", "nearest"] = "bicubic"
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    background: tuple[int, int, int] = Field(
        (255, 255, 255), description="Transparent pixels are composited on this colour."
    )


class ModelDir(BaseModel):
    name: str
    path: Path
    labels: list[str]
    preprocess: PreprocessConfig
    card: dict[str, Any]

    @property
    def onnx_path(self) -> Path:
        return self.path / MODEL_FILE

    @classmethod
    def load(cls, path: Path) -> ModelDir:
        missing = [
            f for f in (MODEL_FILE, LABELS_FILE, PREPROCESS_FILE) if not (path / f).is_file()
        ]
        if missing:
            raise FileNotFoundError(
                f"{path} is not a model directory: missing {', '.join(missing)}"
            )
        card_path = path / CARD_FILE
        return cls(
            name=path.name,
            path=path,
            labels=json.loads((path / LABELS_FILE).read_text()),
            preprocess=PreprocessConfig.model_validate_json((path / PREPROCESS_FILE).read_text()),
            card=json.loads(card_path.read_text()) if card_path.is_file() else {},
        )

    @classmethod
    def write(
        cls, path: Path, labels: list[str], preprocess: PreprocessConfig, card: dict[str, Any]
    ) -> ModelDir:
        """Write the metadata beside an existing `model.onnx`."""
        (path / LABELS_FILE).write_text(json.dumps(labels, indent=1) + "\n")
        (path / PREPROCESS_FILE).write_text(preprocess.model_dump_json(indent=2) + "\n")
        (path / CARD_FILE).write_text(json.dumps(card, indent=2, default=str) + "\n")
        return cls.load(path)


def discover(models_dir: Path) -> list[ModelDir]:
    """Every model directory directly under `models_dir`, by name."""
    if not models_dir.is_dir():
        raise FileNotFoundError(f"Models directory {models_dir} does not exist")
    return [ModelDir.load(p) for p in sorted(models_dir.iterdir()) if (p / MODEL_FILE).is_file()]
