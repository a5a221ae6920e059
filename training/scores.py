"""Classification scores from labels and a confusion matrix. Pure numpy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Mistake:
    path: Path
    truth: str
    predicted: str
    confidence: float


def confusion_matrix(
    truth: np.ndarray, predicted: np.ndarray, rows: int, columns: int
) -> np.ndarray:
    """counts[i, j]: images of class i predicted as column j."""
    counts = np.zeros((rows, columns), dtype=np.int64)
    np.add.at(counts, (truth, predicted), 1)
    return counts


def per_class(confusion: np.ndarray, classes: list[str]) -> list[dict[str, Any]]:
    rows = []
    for i, name in enumerate(classes):
        tp = int(confusion[i, i])
        support = int(confusion[i].sum())
        predicted = int(confusion[:, i].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(
            {"class": name, "precision": precision, "recall": recall, "f1": f1, "support": support}
        )
    return rows


def top_k_hits(probabilities: np.ndarray, truth: np.ndarray, k: int) -> np.ndarray:
    k = min(k, probabilities.shape[1])
    top = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    hits: np.ndarray = (top == truth[:, None]).any(axis=1)
    return hits
