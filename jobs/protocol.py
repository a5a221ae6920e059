"""The job protocol: every Redis key, transition and Celery/kombu internal of a job's life.

Written once as steps, used by the API and the bot (`JobClient`), the worker and the metrics:

    submit   client  -> queued              record, image, queued set and queue message: one MULTI
    start    worker  queued|running -> running   counts the delivery; past the cap -> failed/poison
    finish   worker  running -> succeeded|failed  drops the image, wakes waiters
    cancel   client  queued|running -> canceled   a running job's later result is dropped
    expire   worker  queued past its deadline -> expired   (start checks the deadline too)
    reap     worker  running (dead worker) -> queued   a surviving worker requeues them
    rescue   worker  queued (message lost) -> queued   sent again

start, finish, cancel, expire and reap are Lua scripts, so each is atomic, and each is guarded:
an ended job is never written again, so a late duplicate delivery or a worker that wakes after
being given up on is harmless. The scripts respect every terminal `JobStatus` (`ENDED`). Every
step that ends a job does its bookkeeping through ONE Lua function, `END_JOB`: hook "a job
ended" there.

The job record is the JSON a client reads (`Job`), stored as is, so `GET /jobs/{id}` returns
the stored bytes. The scripts edit it with Redis's bundled cjson.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
import redis.asyncio as aioredis

from jobs.contract import QUEUE_NAME, TASK_NAME, ErrorCode, Job, JobStatus, ModelInfo, utcnow

PREFIX = "kennel"
MODELS = f"{PREFIX}:models"  # hash: model name -> ModelInfo JSON, as workers announce them
WORKERS = f"{PREFIX}:workers"  # set: every worker that announced and has not retired
WORKER_PATTERN = f"{PREFIX}:worker:*"
QUEUED = f"{PREFIX}:queued"  # zset: jobs submitted and not started, by submission time
DEADLINES = f"{PREFIX}:deadlines"  # zset: queued jobs that have a deadline, by deadline (epoch)
DONE_CHANNEL = f"{PREFIX}:done"  # pub/sub: space-separated ids of jobs that just ended
# pub/sub: "<id> <record>" when a job starts running (the events stream's `running`)
RUNNING_CHANNEL = f"{PREFIX}:running"
ANNOUNCE_CHANNEL = f"{PREFIX}:announce"  # pub/sub: a worker announced its models
# Celery's Redis transport (kombu): the queue is a list named after it; messages a worker took
# and has not acknowledged sit in this hash until acknowledged or restored.
UNACKED = "unacked"

ENDED = tuple(status for status in JobStatus if status.is_terminal())
_ENDED_LUA = "{" + ", ".join(f"[{json.dumps(s.value)}] = true" for s in ENDED) + "}"


def job_key(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def image_key(job_id: str) -> str:
    return f"{PREFIX}:image:{job_id}"


def worker_key(name: str) -> str:
    """Exists while the worker's heartbeat is fresh; holds the names of its models."""
    return f"{PREFIX}:worker:{name}"


def running_key(name: str) -> str:
    """The set of jobs a worker has started and not finished."""
    return f"{PREFIX}:running:{name}"


def timestamp(moment: datetime | None = None) -> str:
    """A time as the job record writes it (pydantic's JSON form of an aware datetime)."""
    return (moment or utcnow()).isoformat().replace("+00:00", "Z")


# The one step every ending goes through (finish, poison, cancel, expire): the record is written
# (its TTL kept), the image, the job's place in the queued and deadline sets and on its worker
# go, and waiters are woken unless the caller wakes a whole batch at once. Returns the record.
END_JOB = f"""
local function end_job(id, job, status, now, prefix, publish)
  if job.worker and job.worker ~= cjson.null then
    redis.call('SREM', prefix .. ':running:' .. job.worker, id)
  end
  job.status = status
  job.finished_at = now
  job.worker = cjson.null
  local raw = cjson.encode(job)
  redis.call('SET', prefix .. ':job:' .. id, raw, 'KEEPTTL')
  redis.call('DEL', prefix .. ':image:' .. id)
  redis.call('ZREM', '{QUEUED}', id)
  redis.call('ZREM', '{DEADLINES}', id)
  if publish then redis.call('PUBLISH', '{DONE_CHANNEL}', id) end
  return raw
end
local ended = {_ENDED_LUA}
"""
_EXPIRED_ERROR = (
    f"{{code = '{ErrorCode.DEADLINE_EXCEEDED.value}', "
    "message = 'The job was not started before its deadline.'}"
)

# KEYS: job, image, queued set, running set of this worker, deadlines.
# ARGV: id, worker, now, max attempts, prefix, now (epoch seconds).
# Returns {outcome, record, image}: outcome is missing | ended | poison | expired | started.
START = (
    END_JOB
    + f"""
local raw = redis.call('GET', KEYS[1])
if not raw then return {{'missing'}} end
local job = cjson.decode(raw)
if ended[job.status] then return {{'ended', raw}} end
local deadline = redis.call('ZSCORE', KEYS[5], ARGV[1])
if deadline and tonumber(deadline) <= tonumber(ARGV[6]) then
  job.error = {_EXPIRED_ERROR}
  return {{'expired', end_job(ARGV[1], job, '{JobStatus.EXPIRED.value}', ARGV[3], ARGV[5], true)}}
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
if job.worker and job.worker ~= cjson.null then
  redis.call('SREM', ARGV[5] .. ':running:' .. job.worker, ARGV[1])
end
if job.attempts >= tonumber(ARGV[4]) then
  job.error = {{code = '{ErrorCode.POISON.value}', message = 'The job was started ' ..
    job.attempts .. ' times and its worker never finished it (the job may crash workers).'}}
  job.worker = cjson.null
  return {{'poison', end_job(ARGV[1], job, '{JobStatus.FAILED.value}', ARGV[3], ARGV[5], true)}}
end
job.status = 'running'
job.attempts = job.attempts + 1
job.started_at = ARGV[3]
job.worker = ARGV[2]
raw = cjson.encode(job)
redis.call('SET', KEYS[1], raw, 'KEEPTTL')
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('PUBLISH', '{RUNNING_CHANNEL}', ARGV[1] .. ' ' .. raw)
return {{'started', raw, redis.call('GET', KEYS[2])}}
"""
)

# KEYS: job. ARGV: id, status, now, result or error JSON, prefix, publish (1: wake waiters here;
# 0: the caller publishes once for a whole batch).
# Returns the ended record, or nil when the job had already ended (canceled, expired, a duplicate
# finished it, or its record is gone): nothing written, the result is dropped.
FINISH = (
    END_JOB
    + f"""
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local job = cjson.decode(raw)
if ended[job.status] then return nil end
if ARGV[2] == '{JobStatus.SUCCEEDED.value}' then
  job.result = cjson.decode(ARGV[4])
else
  job.error = cjson.decode(ARGV[4])
end
return end_job(ARGV[1], job, ARGV[2], ARGV[3], ARGV[5], ARGV[6] == '1')
"""
)

# KEYS: job. ARGV: id, now, prefix.
# Returns {outcome, record, status before}: outcome is missing | ended | canceled.
CANCEL = (
    END_JOB
    + f"""
local raw = redis.call('GET', KEYS[1])
if not raw then return {{'missing'}} end
local job = cjson.decode(raw)
if ended[job.status] then return {{'ended', raw}} end
local was = job.status
job.error = {{code = '{ErrorCode.CANCELED.value}', message = 'Canceled by its client while ' ..
  was .. '.'}}
return {{'canceled', end_job(ARGV[1], job, '{JobStatus.CANCELED.value}', ARGV[2], ARGV[3], true),
  was}}
"""
)

# KEYS: deadlines. ARGV: now (epoch seconds), now (timestamp), prefix, limit.
# Every queued job whose deadline has passed ends expired; returns their records.
EXPIRE = (
    END_JOB
    + f"""
local records = {{}}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])) do
  local raw = redis.call('GET', ARGV[3] .. ':job:' .. id)
  redis.call('ZREM', KEYS[1], id)
  if raw then
    local job = cjson.decode(raw)
    if job.status == '{JobStatus.QUEUED.value}' then
      job.error = {_EXPIRED_ERROR}
      table.insert(records, end_job(id, job, '{JobStatus.EXPIRED.value}', ARGV[2], ARGV[3], true))
    end
  end
end
return records
"""
)

# KEYS: workers set, queued set. ARGV: prefix, now (epoch seconds).
# Every worker whose heartbeat is gone: its running jobs go back to queued; returns their ids.
REAP = """
local requeued = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. ':worker:' .. name) == 0 then
    local running = ARGV[1] .. ':running:' .. name
    for _, id in ipairs(redis.call('SMEMBERS', running)) do
      local key = ARGV[1] .. ':job:' .. id
      local raw = redis.call('GET', key)
      if raw then
        local job = cjson.decode(raw)
        if job.status == 'running' and job.worker == name then
          job.status = 'queued'
          job.worker = cjson.null
          redis.call('SET', key, cjson.encode(job), 'KEEPTTL')
          redis.call('ZADD', KEYS[2], ARGV[2], id)
          table.insert(requeued, id)
        end
      end
    end
    redis.call('DEL', running)
    redis.call('SREM', KEYS[1], name)
  end
end
return requeued
"""


@dataclass(frozen=True)
class Ending:
    """How a job ended, for the finish step: `payload` is the JobResult or JobError JSON."""

    job_id: str
    status: JobStatus
    payload: str


@dataclass(frozen=True)
class Started:
    """What the start step found: `job` is None when the job expired; `image` None if gone."""

    outcome: str
    job: Job | None
    image: bytes | None


@dataclass(frozen=True)
class Cancellation:
    """What the cancel step did: `outcome` is missing | ended | canceled; `record` the job as it
    stands after it; `was` the state it was canceled from."""

    outcome: str
    record: bytes | None
    was: JobStatus | None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def queue_message(job_id: str, suspect: bool = False) -> str:
    """The Celery message that runs `kennel.classify(job_id)`, as Celery's Redis transport
    (kombu) stores it (Celery task protocol 2, JSON, base64 body): pushed with the job's own
    writes, so submitting is one round trip and needs no Celery client."""
    kwargs = {"suspect": True} if suspect else {}
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    body = base64.b64encode(json.dumps([[job_id], kwargs, embed]).encode()).decode()
    headers = {
        "lang": "py",
        "task": TASK_NAME,
        "id": job_id,
        "root_id": job_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "timelimit": [None, None],
        "argsrepr": repr([job_id]),
        "kwargsrepr": repr(kwargs),
        "origin": f"{os.getpid()}@{socket.gethostname()}",
        "ignore_result": True,
    }
    properties = {
        "correlation_id": job_id,
        "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": QUEUE_NAME},
        "priority": 0,
        "body_encoding": "base64",
        "delivery_tag": str(uuid.uuid4()),
    }
    message = {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": properties,
    }
    return json.dumps(message)


def store_job(pipe: Any, job: Job, image: bytes, job_ttl_s: int, image_ttl_s: int) -> None:
    """The submit step, queued on a transaction pipeline (sync or async): the record, the
    image, the queued set and the queue message, all or nothing."""
    pipe.set(job_key(job.id), job.model_dump_json(), ex=job_ttl_s)
    pipe.set(image_key(job.id), image, ex=image_ttl_s)
    pipe.zadd(QUEUED, {job.id: job.created_at.timestamp()})
    if job.deadline_at is not None:
        pipe.zadd(DEADLINES, {job.id: job.deadline_at.timestamp()})
    pipe.lpush(QUEUE_NAME, queue_message(job.id))


def announce(pipe: Any, worker: str, models: Sequence[ModelInfo], ttl_s: float) -> None:
    for model in models:
        pipe.hset(MODELS, model.name, model.model_dump_json())
    pipe.set(worker_key(worker), ",".join(m.name for m in models), px=int(ttl_s * 1000))
    pipe.sadd(WORKERS, worker)
    pipe.publish(ANNOUNCE_CHANNEL, worker)


class WorkerProtocol:
    """The worker's steps, synchronous (they run in the worker's threads)."""

    def __init__(self, client: redis.Redis, max_attempts: int) -> None:
        self.redis = client
        self.max_attempts = max_attempts
        self._start = client.register_script(START)
        self._finish = client.register_script(FINISH)
        self._reap = client.register_script(REAP)
        self._expire = client.register_script(EXPIRE)

    @classmethod
    def connect(cls, redis_url: str, max_attempts: int) -> WorkerProtocol:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        return cls(client, max_attempts)

    def start(self, job_id: str, worker: str) -> Started:
        keys = [job_key(job_id), image_key(job_id), QUEUED, running_key(worker), DEADLINES]
        now = utcnow()
        argv: list[str | int | float] = [
            job_id,
            worker,
            timestamp(now),
            self.max_attempts,
            PREFIX,
            now.timestamp(),
        ]
        reply = self._start(keys=keys, args=argv)
        outcome = _text(reply[0])
        job = Job.model_validate_json(reply[1]) if len(reply) > 1 else None
        image = reply[2] if len(reply) > 2 and isinstance(reply[2], bytes) else None
        return Started(outcome, job, image)

    def finish(self, job_id: str, status: JobStatus, payload: str) -> Job | None:
        """End a running job; None when it had already ended (a late duplicate)."""
        return self.finish_many([Ending(job_id, status, payload)])[0]

    def finish_many(self, endings: Sequence[Ending]) -> list[Job | None]:
        """End several jobs in one round trip with one wake-up; None for each that had
        already ended. Each job's transition is its own guarded script; the wake-up names
        them all (a waiter woken for a job that had ended already just reads it again)."""
        now = timestamp()
        pipe = self.redis.pipeline(transaction=False)
        for e in endings:
            self._finish(
                keys=[job_key(e.job_id)],
                args=[e.job_id, e.status.value, now, e.payload, PREFIX, 0],
                client=pipe,
            )
        pipe.publish(DONE_CHANNEL, " ".join(e.job_id for e in endings))
        replies = pipe.execute()[:-1]
        return [None if raw is None else Job.model_validate_json(raw) for raw in replies]

    def announce(self, worker: str, models: Sequence[ModelInfo], ttl_s: float) -> None:
        pipe = self.redis.pipeline(transaction=True)
        announce(pipe, worker, models, ttl_s)
        pipe.execute()

    def announced(self, worker: str) -> bool:
        return bool(self.redis.exists(worker_key(worker)))

    def requeue(self, job_ids: Sequence[str], suspect: bool) -> None:
        """Send the jobs' messages again: their worker died (suspects), or they were lost.
        They go to the head of the queue (kombu takes from the right): they waited already."""
        if job_ids:
            self.redis.rpush(QUEUE_NAME, *(queue_message(i, suspect) for i in job_ids))

    def retire(self, worker: str) -> None:
        self.redis.delete(worker_key(worker))

    def expire(self, limit: int = 100) -> list[Job]:
        """End every queued job whose deadline has passed (`expired`); the jobs it ended."""
        now = utcnow()
        records = self._expire(
            keys=[DEADLINES], args=[now.timestamp(), timestamp(now), PREFIX, limit]
        )
        return [Job.model_validate_json(raw) for raw in records]

    def reap(self, now: float) -> list[str]:
        """Requeue the running jobs of every worker whose heartbeat is gone; their ids."""
        return [_text(i) for i in self._reap(keys=[WORKERS, QUEUED], args=[PREFIX, now])]

    # The rescue step: a queued job whose message is nowhere (see worker/rescue.py).
    def queued_before(self, moment: float, limit: int) -> list[str]:
        ids = self.redis.zrangebyscore(QUEUED, "-inf", moment, start=0, num=limit)
        return [_text(i) for i in ids if isinstance(i, bytes | str)]

    def messages_in_flight(self, max_queue: int) -> bytes | None:
        """Every Celery message in the queue or held unacknowledged by a worker, as raw bytes;
        None when the queue is longer than `max_queue` (too many to read on every heartbeat)."""
        if self.redis.llen(QUEUE_NAME) > max_queue:
            return None
        queued = self.redis.lrange(QUEUE_NAME, 0, -1)
        unacked = self.redis.hvals(UNACKED)
        return b"\n".join(m if isinstance(m, bytes) else m.encode() for m in [*queued, *unacked])

    def claim_queued(self, job_id: str, now: float) -> bool:
        """Take `job_id` from the queued set for requeueing; only one caller gets True."""
        if not self.redis.zrem(QUEUED, job_id):
            return False
        self.redis.zadd(QUEUED, {job_id: now})
        return True

    def still_queued(self, job_id: str) -> bool:
        """Whether the job still waits for a worker; forgets it from the queued set if not."""
        raw = self.redis.get(job_key(job_id))
        if raw is not None and Job.model_validate_json(raw).status == JobStatus.QUEUED:
            return True
        self.redis.zrem(QUEUED, job_id)  # expired, or started meanwhile
        return False


def queue_length(client: redis.Redis) -> int:
    """Messages waiting in Celery's queue (not yet taken by a worker)."""
    return int(client.llen(QUEUE_NAME))


class ClientSteps:
    """The steps a client (the API, the bot) takes on a job besides submitting it."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._cancel = client.register_script(CANCEL)

    async def cancel(self, job_id: str) -> Cancellation:
        reply = await self._cancel(keys=[job_key(job_id)], args=[job_id, timestamp(), PREFIX])
        outcome = _text(reply[0])
        record = reply[1] if len(reply) > 1 else None
        was = JobStatus(_text(reply[2])) if len(reply) > 2 else None
        return Cancellation(outcome, record, was)


def running_update(data: bytes) -> tuple[str, bytes]:
    """A `RUNNING_CHANNEL` message: the job's id and its record."""
    job_id, _, record = data.partition(b" ")
    return job_id.decode(), record


async def read_job(client: aioredis.Redis, job_id: str) -> bytes | None:
    raw = await client.get(job_key(job_id))
    return raw if raw is None or isinstance(raw, bytes) else str(raw).encode()


async def served_models(client: aioredis.Redis) -> dict[str, ModelInfo]:
    raw = await client.hgetall(MODELS)
    return {_text(k): ModelInfo.model_validate_json(v) for k, v in raw.items()}


async def live_workers(client: aioredis.Redis) -> list[str]:
    names = [_text(key) async for key in client.scan_iter(WORKER_PATTERN)]
    return sorted(name.removeprefix(worker_key("")) for name in names)
