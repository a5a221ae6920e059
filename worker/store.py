"""The worker's side of the job records in Redis (synchronous: it runs in Celery's threads)."""

from __future__ import annotations

import redis

from jobs import keys
from jobs.contract import Job, ModelInfo
from jobs.settings import QueueSettings

DONE_TTL_S = 60


class WorkerStore:
    def __init__(self, client: redis.Redis, settings: QueueSettings) -> None:
        self._redis = client
        self._settings = settings

    @classmethod
    def connect(cls, settings: QueueSettings) -> WorkerStore:
        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=5
        )
        return cls(client, settings)

    def load(self, job_id: str) -> Job | None:
        raw = self._redis.get(keys.job(job_id))
        return None if raw is None else Job.model_validate_json(raw)

    def image(self, job_id: str) -> bytes | None:
        data = self._redis.get(keys.image(job_id))
        return data if isinstance(data, bytes) or data is None else data.encode()

    def save(self, job: Job) -> None:
        self._redis.set(keys.job(job.id), job.model_dump_json(), ex=self._settings.job_ttl_s)

    def finish(self, job: Job) -> None:
        """Store the ended job, drop its image and wake whoever waits for it."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(keys.job(job.id), job.model_dump_json(), ex=self._settings.job_ttl_s)
        pipe.delete(keys.image(job.id))
        pipe.rpush(keys.done(job.id), 1)
        pipe.expire(keys.done(job.id), DONE_TTL_S)
        pipe.execute()

    def announce(self, worker: str, models: list[ModelInfo], ttl_s: float) -> None:
        pipe = self._redis.pipeline(transaction=True)
        for model in models:
            pipe.hset(keys.MODELS, model.name, model.model_dump_json())
        pipe.set(keys.worker(worker), ",".join(m.name for m in models), px=int(ttl_s * 1000))
        pipe.execute()

    def retire(self, worker: str) -> None:
        self._redis.delete(keys.worker(worker))

    def close(self) -> None:
        self._redis.close()
