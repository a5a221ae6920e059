"""Evaluation through the serving code: consistent files, label mapping, clear mismatches."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import ImageTreeFactory
from training.cli import main
from training.errors import LabelMismatch
from training.evaluate import evaluate
from training.labelmap import wnid_names
from worker.modeldir import ModelDir

MODELS = Path(__file__).resolve().parents[2] / "models"
IMAGEWOOF_MODEL = MODELS / "imagewoof"


def _confusion(path: Path) -> np.ndarray:
    with path.open() as f:
        rows = list(csv.reader(f))[1:]
    return np.asarray([[int(v) for v in row[1:]] for row in rows])


def test_evaluate_writes_consistent_metrics_and_figures(
    exported_tiny_model: ModelDir, tiny_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    main(["evaluate", str(exported_tiny_model.path), str(tiny_data / "val"), "--out", str(out)])

    metrics = json.loads((out / "metrics.json").read_text())
    confusion = _confusion(out / "confusion.csv")
    assert metrics["n_images"] == 36 == confusion.sum()
    assert metrics["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
    assert metrics["accuracy"] > 0.6 and metrics["top5"] == 1.0  # 3 classes: top-5 is all
    with (out / "per_class.csv").open() as f:
        per_class = list(csv.DictReader(f))
    for i, row in enumerate(per_class):
        assert float(row["recall"]) == pytest.approx(confusion[i, i] / confusion[i].sum())
    for png in ("confusion.png", "mistakes.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_zero_shot_imagewoof_model_maps_wordnet_folders(image_tree: ImageTreeFactory) -> None:
    wnids = list(wnid_names())
    assert wnids[0] == "n02086240" and len(wnids) == 10
    data = image_tree(classes=dict.fromkeys(wnids, "red_circle"), n_train=1, n_val=1, side=64)

    evaluation = evaluate(IMAGEWOOF_MODEL, data / "val")

    assert evaluation.classes == ModelDir.load(IMAGEWOOF_MODEL).labels
    assert evaluation.confusion.shape == (10, 10)
    assert evaluation.metrics["n_images"] == 10


def test_folders_that_match_no_label_fail_clearly(
    exported_tiny_model: ModelDir, image_tree: ImageTreeFactory
) -> None:
    data = image_tree(classes={"red_circle": "red_circle", "purple_star": "green_square"}, n_val=1)
    with pytest.raises(LabelMismatch, match=r"No model label for folder.*purple_star"):
        evaluate(exported_tiny_model.path, data / "val")


def test_a_model_with_more_labels_than_folders_gets_an_other_column(
    image_tree: ImageTreeFactory,
) -> None:
    wnids = list(wnid_names())[:3]
    data = image_tree(classes=dict.fromkeys(wnids, "green_square"), n_train=1, n_val=2, side=64)

    evaluation = evaluate(MODELS / "imagenet", data / "val")

    assert evaluation.classes == ["Shih-Tzu", "Rhodesian ridgeback", "beagle"]
    assert evaluation.columns[-1] == "(other)" and evaluation.confusion.shape == (3, 4)
    assert evaluation.confusion.sum() == 6
