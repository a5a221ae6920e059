"""Where the command line finds kennel: KENNEL_URL and KENNEL_API_KEY (or .env)."""

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from kennel.client import DEFAULT_URL


class ClientSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KENNEL_", env_file=".env", extra="ignore")

    url: str = DEFAULT_URL
    api_key: SecretStr | None = None
