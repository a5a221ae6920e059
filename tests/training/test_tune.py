"""tune: a few trials run, at least one is pruned, the study resumes from its file, and the
best config it writes trains with `fit -c`."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml

from tests.training.conftest import tiny_config
from training.cli import main
from training.errors import TrainingError
from training.tune import open_study, tune


def test_a_search_prunes_resumes_and_its_best_config_trains(
    tiny_data: Path, tmp_path: Path
) -> None:
    base = tiny_config(tiny_data, tmp_path / "unused", epochs=3, input_size=32)
    out = tmp_path / "search"

    first = tune(base, out, trials=5, startup_trials=2)
    assert len(first.rows) == 5
    resumed = tune(base, out, trials=7, startup_trials=2)

    with (out / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["trial"]) for r in rows] == list(range(7))  # 5 kept, 2 added
    assert len(open_study(out, 0, 2).trials) == 7
    states = [r["state"] for r in rows]
    assert "pruned" in states, states
    assert all(s in ("complete", "pruned") for s in states)
    pruned = [r for r in rows if r["state"] == "pruned"]
    assert all(int(r["epochs"]) < 3 for r in pruned)
    assert {"lr", "weight_decay", "label_smoothing", "augment", "drop_path_rate"} <= set(rows[0])
    assert (out / "search.png").stat().st_size > 1000
    assert resumed.best_value == max(
        float(r["best_val_acc"]) for r in rows if r["state"] == "complete"
    )

    best = yaml.safe_load((out / "best.yaml").read_text())
    main(["fit", "-c", str(out / "best.yaml"), "--epochs", "1"])
    assert (Path(best["out"]) / "best.pt").is_file()


def test_a_search_with_no_completed_trial_fails_clearly(tiny_data: Path, tmp_path: Path) -> None:
    base = tiny_config(tiny_data, tmp_path / "unused", epochs=1, input_size=32)
    with pytest.raises(TrainingError, match=r"No trial of .* has completed"):
        tune(base, tmp_path / "search", trials=0)
