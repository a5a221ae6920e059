"""The served ONNX models: batched inference equals one-at-a-time inference."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from jobs.images import ImageLimits
from tests.conftest import PHOTO_MANIFEST
from worker.classifier import OnnxClassifier, providers_for, top_k
from worker.errors import ModelLoadError
from worker.modeldir import ModelDir, discover
from worker.preprocess import preprocess, stack

MODELS = Path(__file__).resolve().parents[2] / "models"
LIMITS = ImageLimits(max_bytes=10 * 1024 * 1024, max_pixels=50_000_000)


@pytest.fixture(scope="module")
def imagenet() -> OnnxClassifier:
    return OnnxClassifier.load(ModelDir.load(MODELS / "imagenet"))


def test_the_default_models_are_discovered() -> None:
    assert [m.name for m in discover(MODELS)] == ["imagenet", "imagewoof"]


def test_batched_equals_one_at_a_time(imagenet: OnnxClassifier) -> None:
    arrays = [preprocess(p.data, imagenet.model.preprocess, LIMITS) for p in PHOTO_MANIFEST[:8]]
    batched = imagenet.predict_batch(stack(arrays))
    singles = np.concatenate([imagenet.predict_batch(stack([a])) for a in arrays])
    assert batched.shape == (8, 1000)
    assert np.abs(batched - singles).max() < 1e-4
    assert np.allclose(batched.sum(axis=1), 1.0, atol=1e-4)


def test_top_k_is_sorted_and_bounded() -> None:
    probabilities = np.array([0.1, 0.6, 0.3])
    predictions = top_k(probabilities, ["a", "b", "c"], 5)
    assert [p.label for p in predictions] == ["b", "c", "a"]
    assert [p.label for p in top_k(probabilities, ["a", "b", "c"], 1)] == ["b"]


def test_a_model_that_cannot_load_is_fatal(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.onnx").write_bytes(b"not onnx")
    (broken / "labels.json").write_text('["a"]')
    (broken / "preprocess.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="Cannot load model broken"):
        OnnxClassifier.load(ModelDir.load(broken))


def test_labels_must_match_the_outputs(tmp_path: Path) -> None:
    copy = tmp_path / "imagewoof"
    copy.mkdir()
    for name in ("model.onnx", "preprocess.json"):
        (copy / name).write_bytes((MODELS / "imagewoof" / name).read_bytes())
    (copy / "labels.json").write_text('["only one"]')
    with pytest.raises(ModelLoadError, match="10 outputs but 1 labels"):
        OnnxClassifier.load(ModelDir.load(copy))


def test_cuda_without_a_gpu_falls_back_to_cpu_with_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert providers_for("cuda")[0] == "CUDAExecutionProvider"
        return
    with caplog.at_level(logging.WARNING, logger="worker.classifier"):
        assert providers_for("cuda") == ["CPUExecutionProvider"]
    assert "falling back to CPU" in caplog.text
    assert providers_for("cpu") == ["CPUExecutionProvider"]
