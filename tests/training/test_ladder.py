"""reproduce-seed's steps on tiny data: fit, export and evaluate each model of a ladder, distil
the student from the best, and write the table."""

from __future__ import annotations

import json
from pathlib import Path

from tests.training.conftest import ImageTreeFactory
from training.cli import main


def test_the_ladder_fits_exports_evaluates_distils_and_tabulates(
    image_tree: ImageTreeFactory, tmp_path: Path
) -> None:
    data = image_tree(n_train=8, n_val=4)
    runs, models = tmp_path / "runs", tmp_path / "models"
    main([
        "reproduce-seed", "--data", str(data), "--ladder", "test_resnet,test_convnext",
        "--student", "test_efficientnet", "--runs", str(runs), "--models-dir", str(models),
        "--epochs", "1", "--input-size", "32", "--batch-size", "8", "--workers", "0",
        "--no-pretrained", "--ceiling-s", "0.2",
    ])  # fmt: skip

    names = ["test_resnet", "test_convnext", "test_efficientnet-distilled"]
    for name in names:
        metrics = json.loads((models / f"woof-{name}" / "eval" / "metrics.json").read_text())
        assert metrics["n_images"] == 12
    best = max(names[:2], key=lambda name: _best_val_acc(runs / name))  # the first on a tie
    card = json.loads((models / "woof-test_efficientnet-distilled" / "card.json").read_text())
    assert card["training"]["distilled_from"] == str(runs / best / "best.pt")
    table = (runs / "SEED_TABLE.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("| test_")]
    assert [row.split(" | ")[0].strip("| ") for row in rows] == names
    assert all(row.split(" | ")[-1].strip(" |") != "n/a" for row in rows)  # a ceiling each


def _best_val_acc(run_dir: Path) -> float:
    lines = (run_dir / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    return max(float(line.split(",")[header.index("val_acc")]) for line in lines[1:])
