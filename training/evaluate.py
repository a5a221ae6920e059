"""Evaluate a model directory on an ImageFolder tree through the SERVING code path.

Every image goes through worker.preprocess.preprocess (the bytes a user would upload) and
worker.classifier.OnnxClassifier, so what is measured is what is served.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from jobs.images import ImageLimits
from training.errors import SkippedImageWarning
from training.imagefolder import Sample, class_names, scan
from training.labelmap import folder_to_label
from training.scores import Mistake, confusion_matrix, per_class, top_k_hits
from worker.classifier import OnnxClassifier
from worker.errors import DecodeFailed
from worker.modeldir import ModelDir
from worker.preprocess import preprocess, stack

log = logging.getLogger(__name__)
LIMITS = ImageLimits(max_bytes=50 * 1024 * 1024, max_pixels=100_000_000)


@dataclass
class Evaluation:
    classes: list[str]  # the model labels of the folders, in folder order
    columns: list[
        str
    ]  # confusion-matrix columns: the classes, then "(other)" if the model has more
    confusion: np.ndarray
    metrics: dict[str, Any]
    per_class: list[dict[str, Any]]
    mistakes: list[Mistake]


def _predict(
    classifier: OnnxClassifier, samples: list[Sample], batch_size: int
) -> tuple[list[Sample], np.ndarray]:
    """Probabilities of every readable sample (the rest skipped with a warning)."""
    config = classifier.model.preprocess
    kept: list[Sample] = []
    outputs: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    for i, sample in enumerate(tqdm(samples, desc="evaluating", unit="img", leave=False)):
        try:
            batch.append(preprocess(sample.path.read_bytes(), config, LIMITS))
            kept.append(sample)
        except DecodeFailed as exc:
            warnings.warn(f"skipping {sample.path}: {exc}", SkippedImageWarning, stacklevel=2)
        if batch and (len(batch) == batch_size or i == len(samples) - 1):
            outputs.append(classifier.predict_batch(stack(batch)))
            batch = []
    n_labels = len(classifier.labels)
    return kept, np.concatenate(outputs) if outputs else np.zeros((0, n_labels), np.float32)


def evaluate(model_dir: Path, data_dir: Path, batch_size: int = 32) -> Evaluation:
    model = ModelDir.load(model_dir)
    folders = class_names(data_dir)
    label_of_folder = folder_to_label(folders, model.labels)
    _, samples = scan(data_dir, folders)
    classifier = OnnxClassifier.load(model)
    kept, probabilities = _predict(classifier, samples, batch_size)
    truth_labels = np.asarray([label_of_folder[s.label] for s in kept], dtype=np.int64)
    predicted_labels = probabilities.argmax(axis=1)
    # Model label -> confusion column: the folder's position, or "(other)" for labels no folder has.
    extra = len(model.labels) > len(folders)
    column = np.full(len(model.labels), len(folders), dtype=np.int64)
    column[label_of_folder] = np.arange(len(folders))
    truth = np.asarray([s.label for s in kept], dtype=np.int64)
    predicted = column[predicted_labels]
    confusion = confusion_matrix(truth, predicted, len(folders), len(folders) + int(extra))
    classes = [model.labels[i] for i in label_of_folder]
    rows = per_class(confusion, classes)
    correct = int(np.trace(confusion[:, : len(folders)]))
    metrics = {
        "model": model.name,
        "data": str(data_dir),
        "n_images": len(kept),
        "n_skipped": len(samples) - len(kept),
        "accuracy": correct / max(1, len(kept)),
        "top5": float(top_k_hits(probabilities, truth_labels, 5).mean()) if len(kept) else 0.0,
        "macro_f1": float(np.mean([r["f1"] for r in rows])),
        "labels_compared": classes,
    }
    confidence = probabilities[np.arange(len(kept)), predicted_labels]
    wrong = np.flatnonzero(predicted != truth)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")]
    mistakes = [
        Mistake(
            kept[i].path, classes[truth[i]], model.labels[predicted_labels[i]], float(confidence[i])
        )
        for i in order[:16]
    ]
    columns = classes + (["(other)"] if extra else [])
    return Evaluation(classes, columns, confusion, metrics, rows, mistakes)


def write_evaluation(evaluation: Evaluation, out: Path) -> list[Path]:
    from training.report import write_confusion, write_gallery, write_per_class

    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(evaluation.metrics, indent=2) + "\n")
    return [
        out / "metrics.json",
        write_per_class(evaluation.per_class, out / "per_class.csv"),
        *write_confusion(evaluation.confusion, evaluation.classes, evaluation.columns, out),
        write_gallery(evaluation.mistakes, out / "mistakes.png"),
    ]


def track_evaluation(evaluation: Evaluation, model: Path, out: Path) -> None:
    """Add the evaluation (files and metrics) to the MLflow run that trained the model."""
    from training.tracking import log_to_run

    card = ModelDir.load(model).card
    m = evaluation.metrics
    metrics = {f"eval_{k}": float(m[k]) for k in ("accuracy", "top5", "macro_f1")}
    log_to_run(card.get("mlflow_run_id"), [("evaluation", out)], metrics)
