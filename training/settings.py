"""Settings of the data commands (prefix KENNEL_TRAINING_); flags override them."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

IMAGEWOOF_URL = "https://s3.amazonaws.com/fast-ai-imageclas/imagewoof2-320.tgz"


class DataSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KENNEL_TRAINING_", env_file=".env", extra="ignore"
    )

    imagewoof_url: str = Field(IMAGEWOOF_URL, description="Where `data imagewoof` downloads from.")
    download_timeout_s: float = Field(60.0, description="Socket timeout of the download.")
    val_fraction: float = Field(
        0.2, ge=0.0, lt=1.0, description="Share of a new class kept for val."
    )
    split_seed: int = Field(0, description="Seed of the train/val split of `data add-class`.")


class TrackingSettings(BaseSettings):
    """Where `fit`, `tune` and `pretrain` record their runs (MLflow). MLFLOW_TRACKING_URI,
    MLflow's own variable, wins over KENNEL_TRAINING_TRACKING_URI when both are set."""

    model_config = SettingsConfigDict(
        env_prefix="KENNEL_TRAINING_", env_file=".env", extra="ignore"
    )

    tracking: bool = Field(True, description="Record runs in MLflow at all.")
    tracking_uri: str = Field(
        "runs/mlruns", description="An MLflow tracking URI or a local folder (a file store)."
    )
    experiment: str = Field("kennel", description="The MLflow experiment runs are recorded in.")
