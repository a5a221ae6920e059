"""API settings (KENNEL_API_*, plus the shared queue settings)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.settings import QueueSettings
from jobs.webhooks.settings import WebhookSettings


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KENNEL_API_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    default_model: str = "imagewoof"
    predict_timeout_s: float = Field(
        10.0, gt=0, description="POST /predict waits this long, then answers 202 with the job."
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="A request body not in this long after its headers answers 408."
    )
    header_timeout_s: float = Field(
        30.0, gt=0, description="Request headers not in this long answer 408 (and close)."
    )
    keys: Path | None = Field(
        None,
        description="A file of `key client-name rate-per-minute` lines: job routes then need "
        "`Authorization: Bearer <key>`. Unset: the API is open.",
    )
    access_log: bool = Field(
        False, description="Log a line per request (off: the hot path; requests are in /metrics)."
    )
    queue: QueueSettings = Field(default_factory=QueueSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
