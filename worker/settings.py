"""Worker settings (KENNEL_WORKER_*, plus KENNEL_MODELS_DIR and the shared queue settings)."""

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.settings import QueueSettings


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KENNEL_WORKER_", env_file=".env", extra="ignore", populate_by_name=True
    )

    models_dir: Path = Field(
        Path("models"),
        validation_alias=AliasChoices("models_dir", "KENNEL_MODELS_DIR"),
        description="Every model directory under it is served.",
    )
    device: Literal["cpu", "cuda"] = Field(
        "cpu", description="cuda uses onnxruntime-gpu's CUDA provider, falling back to CPU."
    )
    max_batch_size: int = Field(16, ge=1, description="Most images in one session.run.")
    max_wait_ms: float = Field(
        10.0,
        ge=0,
        description="How long a batch waits for more images after the first (only for images "
        "this worker is preprocessing: a lone request runs at once).",
    )
    concurrency: int = Field(
        0,
        ge=0,
        description="Jobs in flight per worker process, and its Celery threads (a queue "
        "message, naming one or more jobs, holds a thread); 0 means 2 x max_batch_size. "
        "Measured at 32 clients: 8 made batches smaller (7-9 images against 14-15) for no CPU "
        "saved.",
    )
    max_pixels_in_flight: int = Field(
        100_000_000,
        ge=1,
        description="Decoded pixels this process holds at once; more jobs wait for room. One "
        "decoded pixel costs at most about 4.5 bytes while it is in memory, so 100 MP is about "
        "0.45 GB on top of the models (about 0.4 GB) and their batches: sized for a 2 GB "
        "worker. An image larger than this runs alone.",
    )
    intra_op_threads: int = Field(
        0,
        ge=0,
        description="ONNX Runtime threads; 0 means all cores. Measured on 2 busy cores: 1 "
        "thread saved 2-3 worker CPU-ms per job at 32 clients but doubled the latency at 1 "
        "client (p50 101 ms against 53) and lowered throughput, so all cores by default.",
    )
    ort_spinning: bool = Field(
        False,
        description="Let ONNX Runtime's idle threads spin (session.intra_op.allow_spinning). "
        "Off: measured on 2 shared cores, spinning cost the worker 45 CPU-ms per job against 28.",
    )
    preprocess_threads: int = Field(
        0, ge=0, description="Images decoded and resized at once; 0 means one per core."
    )
    heartbeat_s: float = Field(5.0, gt=0, description="How often a worker says it is alive.")
    metrics_port: int = Field(
        9100, ge=0, le=65535, description="Serve this process's Prometheus metrics here; 0: off."
    )
    metrics_host: str = Field(
        "127.0.0.1",
        description="Address the metrics port listens on (0.0.0.0 where Prometheus scrapes "
        "across containers, as docker-compose.yml sets).",
    )
    queue: QueueSettings = Field(default_factory=QueueSettings)

    @property
    def jobs_in_flight(self) -> int:
        return self.concurrency or 2 * self.max_batch_size

    @property
    def preprocessing_at_once(self) -> int:
        return self.preprocess_threads or os.cpu_count() or 1
