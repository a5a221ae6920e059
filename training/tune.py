"""Hyper-parameter (and model) search over `fit` with Optuna.

OUT/study.db      the Optuna study (SQLite): running `tune` again with the same OUT resumes it
OUT/trials/NNN/   each trial's run directory (fit's layout)
OUT/trials.csv    one row per trial: state, best val accuracy, epochs run, parameters
OUT/search.png    every trial's best val accuracy, pruned trials marked, and the best so far
OUT/best.yaml     the best trial's config, for `python -m training fit -c OUT/best.yaml`

A TPE sampler proposes; a median pruner stops a trial whose val accuracy after an epoch is
below the median of earlier trials' at the same epoch. The search is recorded in MLflow, each
trial a nested run.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from training.config import FitConfig
from training.errors import TrainingError
from training.fit import fit
from training.tracking import tracked_run

log = logging.getLogger(__name__)
STUDY_NAME = "kennel-tune"


@dataclass(frozen=True)
class TuneResult:
    out: Path
    best_value: float
    best_config: Path
    rows: list[dict[str, Any]]


def trial_config(params: dict[str, Any], base: FitConfig, out: Path) -> FitConfig:
    """The base config with a trial's parameters. `augment` (0-1) scales all augmentations."""
    strength = params["augment"]
    update = {
        "lr": params["lr"],
        "weight_decay": params["weight_decay"],
        "label_smoothing": params["label_smoothing"],
        "drop_path_rate": params["drop_path_rate"],
        "model": params.get("model", base.model),
        "out": out,
        "augment": base.augment.model_copy(
            update={
                "scale_min": round(1.0 - 0.8 * strength, 4),
                "rotation": round(20.0 * strength, 2),
                "color_jitter": round(0.4 * strength, 4),
            }
        ),
    }
    return base.model_copy(update=update)


def suggest(trial: Any, models: list[str]) -> dict[str, Any]:
    params = {
        "lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-4, 0.2, log=True),
        "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.2),
        "augment": trial.suggest_float("augment", 0.0, 1.0),
        "drop_path_rate": trial.suggest_float("drop_path_rate", 0.0, 0.3),
    }
    if len(models) > 1:
        params["model"] = trial.suggest_categorical("model", models)
    return params


def _objective(base: FitConfig, out: Path, models: list[str]) -> Callable[[Any], float]:
    import optuna

    def objective(trial: optuna.Trial) -> float:
        config = trial_config(suggest(trial, models), base, out / "trials" / f"{trial.number:03d}")
        trial.set_user_attr("config", config.model_dump(mode="json"))

        def report(epoch: int, row: dict[str, float]) -> None:
            trial.set_user_attr("epochs", epoch)
            trial.report(row["val_acc"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"val accuracy {row['val_acc']:.4f} after epoch {epoch}")

        return fit(config, hooks=[report]).best_val_acc

    return objective


def open_study(out: Path, seed: int, startup_trials: int) -> Any:
    """The study in OUT/study.db, created or resumed. A trial cut off by a crash stays in it as
    "running" and does not count towards --trials."""
    import optuna

    out.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(out / 'study.db').resolve()}"
    study = optuna.create_study(
        study_name=STUDY_NAME,
        storage=storage,
        load_if_exists=True,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=0),
    )
    return study


def trial_rows(study: Any) -> list[dict[str, Any]]:
    rows = []
    for t in study.trials:
        values = list(t.intermediate_values.values())
        rows.append(
            {
                "trial": t.number,
                "state": t.state.name.lower(),
                "best_val_acc": max(values) if values else None,
                "epochs": t.user_attrs.get("epochs", 0),
                **t.params,
            }
        )
    return rows


def _progress(total: int) -> Callable[[Any, Any], None]:
    def callback(study: Any, trial: Any) -> None:
        values = list(trial.intermediate_values.values())
        best = max(values) if values else float("nan")
        params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
        done = sum(t.state.is_finished() for t in study.trials)
        log.info(
            "trial %d (%d/%d) %s after %d epoch(s): best val acc %.4f (%s); study best %.4f",
            trial.number, done, total, trial.state.name.lower(), len(values), best, params,
            _study_best(study),
        )  # fmt: skip

    return callback


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _study_best(study: Any) -> float:
    try:
        return float(study.best_value)
    except ValueError:  # no completed trial yet
        return float("nan")


def tune(
    base: FitConfig,
    out: Path,
    trials: int,
    timeout_s: float | None = None,
    models: list[str] | None = None,
    startup_trials: int = 2,
) -> TuneResult:
    """Run trials until the study holds `trials` finished ones (or `timeout_s` passes)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # progress is logged per trial here
    models = models or [base.model]
    study = open_study(out, base.seed, startup_trials)
    done = sum(t.state.is_finished() for t in study.trials)
    if done:
        log.info("resuming the study in %s: %d trial(s) already finished", out, done)
    params = {"trials": trials, "models": ",".join(models), **base.model_dump(mode="json")}
    with tracked_run("tune", out.name, params) as tracker:
        study.optimize(
            _objective(base, out, models),
            n_trials=max(0, trials - done),
            timeout=timeout_s,
            callbacks=[_progress(trials)],
            catch=(),
        )
        result = write_results(study, out)
        tracker.log_metrics({"best_val_acc": result.best_value}, step=len(result.rows))
        for name in ("trials.csv", "search.png", "best.yaml"):
            tracker.log_artifact(out / name)
    return result


def write_results(study: Any, out: Path) -> TuneResult:
    rows = trial_rows(study)
    columns = sorted({key for row in rows for key in row}, key=_column_order)
    with (out / "trials.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    plot_search(rows, out / "search.png")
    if not any(row["state"] == "complete" for row in rows):
        raise TrainingError(f"No trial of {out / 'study.db'} has completed: nothing to choose from")
    best = study.best_trial
    config = FitConfig.model_validate(best.user_attrs["config"])
    config = config.model_copy(update={"out": out / "best"})
    (out / "best.yaml").write_text(
        f"# best trial {best.number} of {out / 'study.db'}: val accuracy {best.value:.4f}\n"
        + yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    )
    log.info("trials:\n%s", format_table(rows, columns))
    log.info("best: trial %d, val acc %.4f; wrote %s", best.number, best.value, out / "best.yaml")
    return TuneResult(out, float(best.value), out / "best.yaml", rows)


def _column_order(key: str) -> tuple[int, str]:
    fixed = ["trial", "state", "best_val_acc", "epochs"]
    return (fixed.index(key), key) if key in fixed else (len(fixed), key)


def format_table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[_short(row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def plot_search(rows: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for state, style in (("complete", "o"), ("pruned", "x")):
        points = [(r["trial"], r["best_val_acc"]) for r in rows if r["state"] == state]
        points = [p for p in points if p[1] is not None]
        if points:
            ax.plot(*zip(*points, strict=True), style, label=state)
    finished = [r for r in rows if r["state"] == "complete"]
    best, running = 0.0, []
    for row in finished:
        best = max(best, row["best_val_acc"] or 0.0)
        running.append((row["trial"], best))
    if running:
        ax.step(*zip(*running, strict=True), where="post", label="best so far")
    ax.set(xlabel="trial", ylabel="best val accuracy", title="kennel tune")
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
