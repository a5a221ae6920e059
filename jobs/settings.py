"""Settings every service shares: where the queue is and how long jobs live."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class QueueSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KENNEL_", env_file=".env", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    job_ttl_s: int = Field(24 * 3600, description="How long a job record stays readable.")
    image_ttl_s: int = Field(3600, description="How long an uploaded image waits for a worker.")
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
    submit_window_ms: float = Field(
        2.0,
        ge=0,
        le=100,
        description="An API or bot process gathers the jobs submitted within this window into "
        "one queue message (per model and priority); 0: only those submitted at the same moment.",
    )
    submit_max_jobs: int = Field(16, ge=1, le=256, description="Most jobs in one queue message.")
    batch_promote_after_s: float = Field(
        30.0,
        gt=0,
        description="A batch-priority message waiting longer than this moves to the front of the "
        "interactive queue, so batch work is never starved by interactive work.",
    )
