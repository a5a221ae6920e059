"""Distillation: a student learns from an exported model directory or from a run's checkpoint."""

from __future__ import annotations

from pathlib import Path

from tests.training.conftest import tiny_config
from training.fit import FitResult, fit
from worker.modeldir import ModelDir


def test_student_learns_from_an_exported_teacher(
    exported_tiny_model: ModelDir, tiny_data: Path, tmp_path: Path
) -> None:
    config = tiny_config(
        tiny_data,
        tmp_path / "student",
        model="test_efficientnet",
        input_size=40,  # differs from the teacher's 48: the teacher resizes its input
        epochs=10,
        distill={"teacher": exported_tiny_model.path, "temperature": 2.0, "alpha": 0.5},
    )
    result = fit(config)
    # chance is 1/3; measured 0.86, 0.97, 0.92 with seeds 0, 1, 2 (after 6 epochs only 0.53,
    # 0.86, 0.56 once preprocessing resized the kept region only: too few epochs to be stable)
    assert result.best_val_acc > 0.6


def test_student_learns_from_a_checkpoint_teacher(
    tiny_run: FitResult, tiny_data: Path, tmp_path: Path
) -> None:
    config = tiny_config(
        tiny_data, tmp_path / "student", distill={"teacher": tiny_run.run_dir / "best.pt"}
    )
    result = fit(config)
    # chance is 1/3; measured 0.97 with seed 0 (0.69 and 1.00 with seeds 1 and 2)
    assert result.best_val_acc > 0.6
