"""API settings (KENNEL_API_*, plus the shared queue settings)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.settings import QueueSettings


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KENNEL_API_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    default_model: str = "imagewoof"
    predict_timeout_s: float = Field(
        10.0, gt=0, description="POST /predict waits this long, then answers 202 with the job."
    )
    access_log: bool = Field(
        False, description="Log a line per request (off: the hot path; requests are in /metrics)."
    )
    queue: QueueSettings = Field(default_factory=QueueSettings)
