"""Experiment tracking: a fit is an MLflow run whose metrics are the run's metrics.csv, and
export and evaluate add the model card and the evaluation to it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from training.cli import main
from training.fit import FitResult, tracking_id_of
from training.runlog import FIELDS, read_metrics
from worker.modeldir import ModelDir


@pytest.fixture
def client(mlflow_store: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=mlflow_store.as_uri())


def test_a_fit_is_an_mlflow_run_with_the_metrics_of_its_csv(
    tiny_run: FitResult, client: MlflowClient
) -> None:
    run_id = tracking_id_of(tiny_run.run_dir)
    assert run_id is not None
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model"] == "test_resnet"
    assert run.data.params["augment.scale_min"] == "0.35"
    rows = read_metrics(tiny_run.run_dir)
    for key in FIELDS[1:]:
        history = sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        assert history == [(int(row["epoch"]), pytest.approx(row[key])) for row in rows], key
    files = {f.path for f in client.list_artifacts(run_id)}
    assert {"config.yaml", "run.json", "metrics.csv"} <= files


def test_export_and_evaluate_add_the_card_and_the_evaluation_to_the_run(
    exported_tiny_model: ModelDir, tiny_data: Path, tmp_path: Path, client: MlflowClient
) -> None:
    run_id = exported_tiny_model.card["mlflow_run_id"]
    main(
        ["evaluate", str(exported_tiny_model.path), str(tiny_data / "val"), "--out", str(tmp_path)]
    )

    model_files = {f.path for f in client.list_artifacts(run_id, "model")}
    assert {"model/card.json", "model/preprocess.json", "model/labels.json"} <= model_files
    evaluation = {f.path for f in client.list_artifacts(run_id, "evaluation")}
    assert {"evaluation/metrics.json", "evaluation/confusion.png"} <= evaluation
    accuracy = json.loads((tmp_path / "metrics.json").read_text())["accuracy"]
    assert client.get_run(run_id).data.metrics["eval_accuracy"] == pytest.approx(accuracy)


def test_the_command_line_does_not_import_mlflow_until_a_run_starts() -> None:
    code = "import sys, training.cli; training.cli.build_parser(); print('mlflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "False"
