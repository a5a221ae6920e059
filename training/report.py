"""Evaluation files: per-class CSV, confusion matrix CSV + PNG, a gallery of confident mistakes."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
from PIL import Image

from training.scores import Mistake


def write_per_class(rows: list[dict[str, Any]], path: Path) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["class", "precision", "recall", "f1", "support"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_confusion(
    confusion: np.ndarray, classes: list[str], columns: list[str], out: Path
) -> list[Path]:
    csv_path, png_path = out / "confusion.csv", out / "confusion.png"
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["truth \\ predicted", *columns])
        for name, row in zip(classes, confusion, strict=True):
            writer.writerow([name, *row.tolist()])
    side = 2.5 + 0.6 * len(columns)
    figure = Figure(figsize=(side, side * len(classes) / len(columns) + 1))
    axes = figure.add_subplot()
    totals = np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    axes.imshow(confusion / totals, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(confusion):
        if count:
            share = count / totals[i, 0]
            axes.text(
                j,
                i,
                str(count),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if share > 0.5 else "black",
            )
    axes.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(classes)), classes, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("truth")
    figure.tight_layout()
    figure.savefig(png_path, dpi=120)
    return [csv_path, png_path]


def write_gallery(mistakes: list[Mistake], path: Path, columns: int = 4) -> Path:
    rows = max(1, -(-len(mistakes) // columns))
    figure = Figure(figsize=(3 * columns, 3.3 * rows))
    if not mistakes:
        figure.text(0.5, 0.5, "no mistakes", ha="center", va="center")
    for i, mistake in enumerate(mistakes):
        axes = figure.add_subplot(rows, columns, i + 1)
        with Image.open(mistake.path) as image:
            image.thumbnail((256, 256))
            axes.imshow(np.asarray(image.convert("RGB")))
        axes.set_title(
            f"true: {mistake.truth}\npredicted: {mistake.predicted} ({mistake.confidence:.2f})",
            fontsize=8,
        )
        axes.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path
