"""Webhook settings (KENNEL_WEBHOOK_*), shared by the API (checking URLs) and the deliverer
(`python -m worker.webhooks`)."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KENNEL_WEBHOOK_", env_file=".env", extra="ignore")

    secret: SecretStr | None = Field(
        None, description="Signing secret, `whsec_<base64>` (Standard Webhooks); unset: unsigned."
    )
    allow_private: bool = Field(
        False, description="Let webhooks go to private, loopback and link-local addresses."
    )
    max_attempts: int = Field(8, ge=1, le=30, description="Deliveries tried before giving up.")
    backoff_s: float = Field(
        1.0, gt=0, description="Wait before the first retry; doubles after each one."
    )
    backoff_max_s: float = Field(600.0, gt=0, description="The longest wait between tries.")
    timeout_s: float = Field(
        10.0,
        gt=0,
        lt=60,
        description="How long one delivery may take (below the 60 s redelivery timeout: a "
        "try never outlives its message).",
    )
    concurrency: int = Field(
        8, ge=1, le=256, description="Deliveries the deliverer makes at once (its threads)."
    )
    metrics_port: int = Field(
        9102, ge=0, le=65535, description="The deliverer's Prometheus metrics port; 0: off."
    )
    metrics_host: str = Field("127.0.0.1", description="Address the metrics port listens on.")
