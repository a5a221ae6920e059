"""Settings every service shares: where the queue is and how long jobs live."""

from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def parse_sentinels(value: str) -> tuple[tuple[str, int], ...]:
    """`host:port,host:port` -> ((host, port), ...); ValueError naming the bad part."""
    sentinels = []
    for part in (p.strip() for p in value.split(",")):
        host, sep, port = part.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(
                f"{part!r} is not host:port (KENNEL_REDIS_SENTINELS is a comma-separated list "
                "of sentinel addresses, such as 10.0.0.1:26379,10.0.0.2:26379)"
            )
        sentinels.append((host.strip("[]"), int(port)))
    return tuple(sentinels)


class QueueSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KENNEL_", env_file=".env", extra="ignore")

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="The Redis holding the jobs. With sentinels set, only its database number "
        "and credentials are used.",
    )
    redis_sentinels: str = Field(
        "",
        description="host:port,host:port,...: Redis Sentinel addresses. Set, every process "
        "connects to the master the sentinels name (KENNEL_REDIS_MASTER) and follows failovers.",
    )
    redis_master: str = Field("kennel", description="The master's name in the sentinels' config.")
    redis_min_replicas: int | None = Field(
        None,
        ge=0,
        description="A submission is answered 202 only once this many replicas hold it (Redis "
        "WAIT); otherwise 503. Unset: 1 with sentinels, 0 without.",
    )
    redis_replica_timeout_ms: int = Field(
        1000, ge=1, description="How long a submission waits for its replicas before a 503."
    )
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
    max_queued: int = Field(
        1000,
        ge=0,
        description="Jobs waiting for one model at most; beyond, submissions answer 429 "
        "queue_full and store nothing. 0: no bound.",
    )
    max_queued_bytes: int = Field(
        512 * MIB,
        ge=0,
        description="Image bytes held in Redis for jobs not ended (waiting or running, all "
        "models) at most; beyond, submissions answer 429 queue_full. 0: no bound.",
    )
    idempotency_ttl_s: int = Field(
        24 * 3600,
        ge=1,
        description="How long an Idempotency-Key keeps answering with the job it made.",
    )

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinels_are_addresses(cls, value: str) -> str:
        if value.strip():
            parse_sentinels(value)
        return value.strip()

    @model_validator(mode="after")
    def _sentinels_name_a_master(self) -> Self:
        if self.redis_sentinels and not self.redis_master.strip():
            raise ValueError(
                "KENNEL_REDIS_SENTINELS is set: KENNEL_REDIS_MASTER must name the master"
            )
        return self

    @property
    def replicas_to_wait(self) -> int:
        """How many replicas must confirm a submission (KENNEL_REDIS_MIN_REPLICAS's default)."""
        if self.redis_min_replicas is not None:
            return self.redis_min_replicas
        return 1 if self.redis_sentinels else 0
