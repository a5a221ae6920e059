"""Accuracy comes from an evaluation the model directory holds, or is not claimed at all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench.models import facts
from stack.processes import ROOT
from worker.modeldir import ModelDir


def _copy_model(tmp_path: Path) -> Path:
    target = tmp_path / "imagewoof"
    shutil.copytree(ROOT / "models" / "imagewoof", target)
    return target


def test_a_model_without_evaluation_has_no_accuracy(tmp_path: Path) -> None:
    model = facts(ModelDir.load(_copy_model(tmp_path)))
    assert model.accuracy is None
    assert model.parameters == 4_652_008
    assert model.onnx_bytes == (tmp_path / "imagewoof" / "model.onnx").stat().st_size


def test_an_evaluated_model_reports_its_accuracy(tmp_path: Path) -> None:
    path = _copy_model(tmp_path)
    (path / "eval").mkdir()
    (path / "eval" / "metrics.json").write_text(json.dumps({"accuracy": 0.91, "n_images": 500}))
    model = facts(ModelDir.load(path))
    assert (model.accuracy, model.eval_images) == (0.91, 500)
