"""Settings every service shares: where the queue is and how long jobs live."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class QueueSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KENNEL_", env_file=".env", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    job_ttl_s: int = Field(24 * 3600, description="How long a job record stays readable.")
    image_ttl_s: int = Field(3600, description="How long an uploaded image waits for a worker.")
    job_deadline_s: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="A job not started this many seconds after submission ends `expired`, "
        "unless its submission gives its own deadline. Unset or 0: no deadline.",
    )
    max_upload_bytes: int = Field(10 * MIB, description="Larger uploads answer 413.")
    max_image_pixels: int = Field(
        50_000_000, description="Larger images (decompression bombs) answer 413."
    )
    max_aspect_ratio: float = Field(
        20.0,
        ge=1,
        description="Images more elongated than this (long side / short side) answer 422.",
    )
    redis_max_connections: int = Field(
        64, ge=2, description="Redis connections an API or bot process keeps at most."
    )
    max_attempts: int = Field(
        3,
        ge=1,
        description="A job started this many times whose worker never finished it (it died) "
        "ends failed with code poison at its next delivery.",
    )
    redelivery_timeout_s: int = Field(
        60,
        description="A job a worker took but did not finish (it died) goes to another worker "
        "after this long. Keep it above the longest job.",
    )
