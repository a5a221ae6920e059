"""Bot settings (KENNEL_BOT_*, KENNEL_TELEGRAM_API_URL, plus the shared queue settings)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import BadSettings
from jobs.settings import MIB, QueueSettings

ENV_PREFIX = "KENNEL_BOT_"
# Telegram's cloud Bot API lets a bot download files up to this size (a local server: more).
TELEGRAM_DOWNLOAD_LIMIT = 20 * MIB
# What @BotFather hands out: the bot's numeric id, a colon, then the secret part.
TOKEN_SHAPE = re.compile(r"\d+:[\w-]+")


class BotSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", populate_by_name=True
    )

    token: SecretStr = Field(description="The token @BotFather gives you.")
    telegram_api_url: str | None = Field(
        None,
        validation_alias="KENNEL_TELEGRAM_API_URL",
        description="A self-hosted Bot API server (or the tests' fake); unset: api.telegram.org.",
    )
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = Field(
        None, description="Public HTTPS base URL Telegram posts to (webhook mode)."
    )
    webhook_path: str = "/telegram/webhook"
    webhook_host: str = "0.0.0.0"
    webhook_port: int = 8081
    webhook_secret: SecretStr | None = Field(
        None, description="Checked against X-Telegram-Bot-Api-Secret-Token on every webhook call."
    )
    default_model: str = "imagewoof"
    top_k: int = Field(3, ge=1, le=10)
    answer_timeout_s: float = Field(
        30.0, gt=0, description="How long a chat waits for its answer before 'try again'."
    )
    confidence_threshold: float = Field(
        0.4, ge=0, le=1, description="Below this top score the bot says it is not sure."
    )
    rate_limit: int = Field(
        20, ge=1, description="Images one chat may send per window (keep >= 10: an album)."
    )
    rate_window_s: int = Field(60, ge=1)
    metrics_port: int = Field(
        9101, ge=0, le=65535, description="Serve the bot's Prometheus metrics here; 0: off."
    )
    metrics_host: str = Field("0.0.0.0", description="Address the metrics port listens on.")
    queue: QueueSettings = Field(default_factory=QueueSettings)

    @field_validator("token")
    @classmethod
    def _looks_like_a_token(cls, token: SecretStr) -> SecretStr:
        if not TOKEN_SHAPE.fullmatch(token.get_secret_value()):
            raise ValueError("is not a bot token (123456789:ABC...) as @BotFather gives it")
        return token

    @property
    def max_download_bytes(self) -> int:
        return min(self.queue.max_upload_bytes, TELEGRAM_DOWNLOAD_LIMIT)


def env_name(field: str) -> str:
    alias = BotSettings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else f"{ENV_PREFIX}{field.upper()}"


def load_settings() -> BotSettings:
    """The settings from the environment, or BadSettings naming each variable that is wrong."""
    try:
        return BotSettings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0])
            name = env_name(field) if field in BotSettings.model_fields else field
            reason = "is not set" if error["type"] == "missing" else error["msg"]
            reason = reason.removeprefix("Value error, ")
            problems.append(f"{name} {reason}")
        raise BadSettings("; ".join(problems)) from None
