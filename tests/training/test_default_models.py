"""The committed default models are what `python -m training export-pretrained` makes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from jobs.images import ImageLimits
from tests.conftest import PHOTO_MANIFEST
from training.pretrained import export_pretrained
from worker.classifier import OnnxClassifier
from worker.modeldir import ModelDir
from worker.preprocess import preprocess, stack

COMMITTED = Path(__file__).resolve().parents[2] / "models"
LIMITS = ImageLimits(max_bytes=10 * 1024 * 1024, max_pixels=50_000_000)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelDir]:
    return {m.name: m for m in export_pretrained(tmp_path_factory.mktemp("models"))}


@pytest.mark.parametrize("name", ["imagenet", "imagewoof"])
def test_a_fresh_export_gives_the_committed_outputs(fresh: dict[str, ModelDir], name: str) -> None:
    committed = ModelDir.load(COMMITTED / name)
    assert fresh[name].labels == committed.labels
    assert fresh[name].preprocess == committed.preprocess
    batch = stack([preprocess(p.data, committed.preprocess, LIMITS) for p in PHOTO_MANIFEST])
    expected = OnnxClassifier.load(committed).predict_batch(batch)
    actual = OnnxClassifier.load(fresh[name]).predict_batch(batch)
    assert np.abs(actual - expected).max() < 1e-5


def test_imagewoof_is_imagenet_restricted_not_renormalised(fresh: dict[str, ModelDir]) -> None:
    imagenet = OnnxClassifier.load(fresh["imagenet"])
    imagewoof = OnnxClassifier.load(fresh["imagewoof"])
    batch = stack(
        [preprocess(p.data, fresh["imagenet"].preprocess, LIMITS) for p in PHOTO_MANIFEST]
    )
    full = imagenet.predict_batch(batch)
    ten = imagewoof.predict_batch(batch)
    indices = [imagenet.labels.index(label) for label in imagewoof.labels]
    assert np.abs(full[:, indices] - ten).max() < 1e-5
    assert (ten.sum(axis=1) < 0.99).any()  # a non-dog photo keeps its low scores
