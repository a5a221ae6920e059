"""The worker's side of the job records in Redis (synchronous: it runs in Celery's threads)."""

from __future__ import annotations

import redis

from jobs import keys
from jobs.contract import QUEUE_NAME, Job, ModelInfo
from jobs.settings import QueueSettings

DONE_TTL_S = 60
# Where Celery's Redis transport (kombu) keeps messages a worker took and has not acknowledged.
UNACKED_KEY = "unacked"


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
        """Store a job a worker has started: it is no longer waiting in the queue."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(keys.job(job.id), job.model_dump_json(), ex=self._settings.job_ttl_s)
        pipe.zrem(keys.QUEUED, job.id)
        pipe.execute()

    def finish(self, job: Job) -> None:
        """Store the ended job, drop its image and wake whoever waits for it."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.set(keys.job(job.id), job.model_dump_json(), ex=self._settings.job_ttl_s)
        pipe.delete(keys.image(job.id))
        pipe.zrem(keys.QUEUED, job.id)
        pipe.rpush(keys.done(job.id), 1)
        pipe.expire(keys.done(job.id), DONE_TTL_S)
        pipe.execute()

    def announce(self, worker: str, models: list[ModelInfo], ttl_s: float) -> None:
        pipe = self._redis.pipeline(transaction=True)
        for model in models:
            pipe.hset(keys.MODELS, model.name, model.model_dump_json())
        pipe.set(keys.worker(worker), ",".join(m.name for m in models), px=int(ttl_s * 1000))
        pipe.execute()

    def queued_before(self, timestamp: float, limit: int) -> list[str]:
        """Jobs submitted before `timestamp` that no worker has started."""
        ids = self._redis.zrangebyscore(keys.QUEUED, "-inf", timestamp, start=0, num=limit)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    def messages_in_flight(self, max_queue: int) -> bytes | None:
        """Every Celery message in the queue or held unacknowledged by a worker, as raw bytes;
        None when the queue is longer than `max_queue` (too many to read on every heartbeat)."""
        if self._redis.llen(QUEUE_NAME) > max_queue:
            return None
        queued = self._redis.lrange(QUEUE_NAME, 0, -1)
        unacked = self._redis.hvals(UNACKED_KEY)
        return b"\n".join(m if isinstance(m, bytes) else m.encode() for m in [*queued, *unacked])

    def claim_queued(self, job_id: str, now: float) -> bool:
        """Take `job_id` from the queued set for requeueing; only one caller gets True."""
        if not self._redis.zrem(keys.QUEUED, job_id):
            return False
        self._redis.zadd(keys.QUEUED, {job_id: now})
        return True

    def forget_queued(self, job_id: str) -> None:
        self._redis.zrem(keys.QUEUED, job_id)

    def retire(self, worker: str) -> None:
        self._redis.delete(keys.worker(worker))

    def close(self) -> None:
        self._redis.close()
