"""Experiment tracking: every fit, tune and pretrain run is recorded in MLflow.

MLflow is imported only here and only when a run starts, so `python -m training --help` and
the data commands do not pay for it. A plain folder (the default, runs/mlruns) is MLflow's
file store, which MLflow 3 keeps in maintenance mode and refuses unless MLFLOW_ALLOW_FILE_STORE
is set: kennel sets it for that case only (`make mlflow-ui` does the same).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from training.settings import TrackingSettings

log = logging.getLogger(__name__)


class Tracker(Protocol):
    run_id: str | None

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None: ...

    def log_artifact(self, path: Path, folder: str | None = None) -> None: ...


class NoTracking:
    """What a run records into when tracking is off."""

    run_id: str | None = None

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        pass

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        pass


class MlflowRun:
    def __init__(self, run_id: str) -> None:
        from mlflow import MlflowClient

        self.run_id: str | None = run_id
        self._client = MlflowClient()

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        import mlflow

        assert self.run_id is not None
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step, run_id=self.run_id)

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        assert self.run_id is not None
        if path.is_dir():
            self._client.log_artifacts(self.run_id, str(path), folder)
        elif path.is_file():
            self._client.log_artifact(self.run_id, str(path), folder)


def tracking_uri(settings: TrackingSettings) -> str:
    """MLFLOW_TRACKING_URI, else the setting; a plain path becomes an absolute file: URI."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or settings.tracking_uri
    if "://" in uri or uri.startswith("file:"):
        return uri
    return Path(uri).resolve().as_uri()


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys ("augment.scale_min"), as MLflow parameters are flat."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _configure(settings: TrackingSettings) -> str:
    import mlflow

    uri = tracking_uri(settings)
    if uri.startswith("file:"):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(settings.experiment)
    return uri


@contextmanager
def tracked_run(
    kind: str,
    name: str,
    params: Mapping[str, Any],
    resume_id: str | None = None,
    settings: TrackingSettings | None = None,
) -> Iterator[Tracker]:
    """An MLflow run (nested in the active one, e.g. a tune's) for the duration of the block.

    `resume_id` continues an earlier run (fit --resume). Off when KENNEL_TRAINING_TRACKING=false.
    """
    settings = settings or TrackingSettings()
    if not settings.tracking:
        yield NoTracking()
        return
    import mlflow

    uri = _configure(settings)
    nested = mlflow.active_run() is not None
    with mlflow.start_run(run_id=resume_id, run_name=name, nested=nested) as run:
        mlflow.set_tag("kennel.command", kind)
        if resume_id is None:
            mlflow.log_params(flatten(params))
        log.info("recording %s in MLflow: %s (run %s)", kind, uri, run.info.run_id)
        yield MlflowRun(run.info.run_id)


def log_to_run(
    run_id: str | None,
    artifacts: list[tuple[str, Path]],
    metrics: Mapping[str, float] | None = None,
    settings: TrackingSettings | None = None,
) -> None:
    """Add artifacts (folder, path) and final metrics to a finished run, e.g. at export."""
    settings = settings or TrackingSettings()
    if run_id is None or not settings.tracking:
        return
    _configure(settings)
    run = MlflowRun(run_id)
    for folder, path in artifacts:
        run.log_artifact(path, folder)
    if metrics:
        run.log_metrics(metrics, step=0)
