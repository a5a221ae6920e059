"""Exporting a run: a model directory the worker loads, with the run's preprocessing; int8."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.training.conftest import SHAPES
from training.cli import main
from training.export import PARITY_TOLERANCE
from training.fit import FitResult
from training.quantize import quantize_model_dir
from worker.classifier import OnnxClassifier
from worker.modeldir import ModelDir


def test_exported_directory_is_accepted_by_the_worker(exported_tiny_model: ModelDir) -> None:
    model = ModelDir.load(exported_tiny_model.path)
    classifier = OnnxClassifier.load(model)
    probe = np.zeros((3, 3, 48, 48), dtype=np.float32)
    probabilities = classifier.predict_batch(probe)
    assert probabilities.shape == (3, len(SHAPES))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert model.labels == sorted(SHAPES)


def test_export_uses_the_runs_preprocessing_and_fills_the_card(
    exported_tiny_model: ModelDir,
) -> None:
    pre = exported_tiny_model.preprocess
    assert (pre.input_size, pre.resize, pre.interpolation) == (48, round(48 / 0.95), "bilinear")
    assert pre.mean == (0.5, 0.5, 0.5)  # test_resnet's pretrained_cfg
    card = exported_tiny_model.card
    assert card["onnx_parity_max_abs_diff"] < PARITY_TOLERANCE
    assert card["parameters"] > 0 and card["onnx_bytes"] > 0
    assert card["training_data"]["images"] == {"train": 72, "val": 36}
    assert card["metrics"]["best_epoch"]["val_acc"] > 0.6


def test_int8_export_writes_a_second_loadable_directory(
    tiny_run: FitResult, tmp_path: Path
) -> None:
    main(
        [
            "export",
            str(tiny_run.run_dir),
            "--name",
            "shapes",
            "--out",
            str(tmp_path / "shapes"),
            "--int8",
        ]
    )

    full = ModelDir.load(tmp_path / "shapes")
    int8 = ModelDir.load(tmp_path / "shapes-int8")
    assert int8.labels == full.labels and int8.preprocess == full.preprocess
    quantisation = int8.card["quantisation"]
    assert quantisation["method"].startswith("static QDQ")  # calibrated on the run's val images
    assert quantisation["probe_top1_agreement"] >= 0.5
    assert int8.card["onnx_bytes"] < full.card["onnx_bytes"]
    probabilities = OnnxClassifier.load(int8).predict_batch(np.zeros((2, 3, 48, 48), np.float32))
    assert probabilities.shape == (2, 3)


def test_int8_without_calibration_images_falls_back_to_dynamic(
    exported_tiny_model: ModelDir, tmp_path: Path
) -> None:
    int8 = quantize_model_dir(exported_tiny_model, tmp_path / "dynamic-int8", calibration=None)
    assert int8.card["quantisation"]["method"].startswith("dynamic")
    assert OnnxClassifier.load(int8).predict_batch(np.zeros((1, 3, 48, 48), np.float32)).shape == (
        1,
        3,
    )
