"""The job protocol: every Redis key, transition and Celery/kombu internal of a job's life.

Written once as steps, used by the API and the bot (`JobClient`), the worker and the metrics:

    submit   client  -> queued              records, images, queued set and ONE queue message
                                            naming several jobs: one MULTI
    start    worker  queued|running -> running   counts the delivery; past the cap -> failed/poison
                                            (a message's jobs start in one pipelined round trip)
    finish   worker  running -> succeeded|failed  drops the image, wakes waiters
    reap     worker  running (dead worker) -> queued   a surviving worker requeues them
    rescue   worker  queued (message lost) -> queued   sent again
    promote  worker  a batch message waiting too long moves to the front of the interactive queue

start, finish and reap are Lua scripts, so each is atomic, and each is guarded: an ended job is
never written again, so a late duplicate delivery or a worker that wakes after being given up on is
harmless. The scripts respect every terminal `JobStatus` (`ENDED`): a new one (say `canceled`)
is one entry in `JobStatus`, and a new step (say `cancel`) one more script like `FINISH`.

The job record is the JSON a client reads (`Job`), stored as is, so `GET /jobs/{id}` returns
the stored bytes. The scripts edit it with Redis's bundled cjson.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
import redis.asyncio as aioredis

from jobs.contract import (
    BATCH_QUEUE_NAME,
    QUEUE_NAME,
    TASK_NAME,
    ErrorCode,
    Job,
    JobStatus,
    ModelInfo,
    Priority,
    utcnow,
)

PREFIX = "kennel"
MODELS = f"{PREFIX}:models"  # hash: model name -> ModelInfo JSON, as workers announce them
WORKERS = f"{PREFIX}:workers"  # set: every worker that announced and has not retired
WORKER_PATTERN = f"{PREFIX}:worker:*"
QUEUED = f"{PREFIX}:queued"  # zset: jobs submitted and not started, by submission time
DONE_CHANNEL = f"{PREFIX}:done"  # pub/sub: space-separated ids of jobs that just ended
ANNOUNCE_CHANNEL = f"{PREFIX}:announce"  # pub/sub: a worker announced its models
# Celery's Redis transport (kombu): each queue is a list named after it (kombu takes from the
# right); messages a worker took and has not acknowledged sit in this hash until acknowledged
# or restored. Workers read the queues in this order (kombu's `sorted` queue order).
QUEUES = (QUEUE_NAME, BATCH_QUEUE_NAME)
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


# KEYS: job, image, queued set, running set of this worker. ARGV: id, worker, now, max attempts,
# prefix. Returns {outcome, record, image}: outcome is missing | ended | poison | started.
START = f"""
local raw = redis.call('GET', KEYS[1])
if not raw then return {{'missing'}} end
local job = cjson.decode(raw)
if ({_ENDED_LUA})[job.status] then return {{'ended', raw}} end
redis.call('ZREM', KEYS[3], ARGV[1])
if job.worker and job.worker ~= cjson.null then
  redis.call('SREM', ARGV[5] .. ':running:' .. job.worker, ARGV[1])
end
if job.attempts >= tonumber(ARGV[4]) then
  job.status = 'failed'
  job.finished_at = ARGV[3]
  job.worker = cjson.null
  job.error = {{code = '{ErrorCode.POISON.value}', message = 'The job was started ' ..
    job.attempts .. ' times and its worker never finished it (the job may crash workers).'}}
  raw = cjson.encode(job)
  redis.call('SET', KEYS[1], raw, 'KEEPTTL')
  redis.call('DEL', KEYS[2])
  redis.call('PUBLISH', '{DONE_CHANNEL}', ARGV[1])
  return {{'poison', raw}}
end
job.status = 'running'
job.attempts = job.attempts + 1
job.started_at = ARGV[3]
job.worker = ARGV[2]
raw = cjson.encode(job)
redis.call('SET', KEYS[1], raw, 'KEEPTTL')
redis.call('SADD', KEYS[4], ARGV[1])
return {{'started', raw, redis.call('GET', KEYS[2])}}
"""

# KEYS: job, image, queued set. ARGV: id, status, now, result or error JSON, prefix, publish (1:
# wake waiters here; 0: the caller publishes once for a whole batch).
# Returns the ended record, or nil when the job had already ended (or expired): nothing written.
FINISH = f"""
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local job = cjson.decode(raw)
if ({_ENDED_LUA})[job.status] then return nil end
if job.worker and job.worker ~= cjson.null then
  redis.call('SREM', ARGV[5] .. ':running:' .. job.worker, ARGV[1])
end
job.status = ARGV[2]
job.finished_at = ARGV[3]
job.worker = cjson.null
if ARGV[2] == '{JobStatus.SUCCEEDED.value}' then
  job.result = cjson.decode(ARGV[4])
else
  job.error = cjson.decode(ARGV[4])
end
raw = cjson.encode(job)
redis.call('SET', KEYS[1], raw, 'KEEPTTL')
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[6] == '1' then redis.call('PUBLISH', '{DONE_CHANNEL}', ARGV[1]) end
return raw
"""

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

# KEYS: batch queue, interactive queue. ARGV: cutoff (epoch seconds).
# Every batch message queued before the cutoff (the oldest are at the right, taken first) moves
# to the front (right) of the interactive queue; returns how many moved.
PROMOTE = """
local moved = 0
while true do
  local raw = redis.call('LINDEX', KEYS[1], -1)
  if not raw then break end
  local ok, message = pcall(cjson.decode, raw)
  local queued_at = ok and message.headers and tonumber(message.headers.kennel_queued_at) or 0
  if queued_at > tonumber(ARGV[1]) then break end
  redis.call('RPUSH', KEYS[2], redis.call('RPOP', KEYS[1]))
  moved = moved + 1
end
return moved
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


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _started(reply: list[Any]) -> Started:
    job = Job.model_validate_json(reply[1]) if len(reply) > 1 else None
    image = reply[2] if len(reply) > 2 and isinstance(reply[2], bytes) else None
    return Started(_text(reply[0]), job, image)


def queue_for(priority: Priority) -> str:
    """The Celery queue a job of this priority waits in (workers read QUEUE_NAME first)."""
    return BATCH_QUEUE_NAME if priority == Priority.BATCH else QUEUE_NAME


def queue_message(
    job_ids: Sequence[str], suspect: bool = False, queue: str = QUEUE_NAME, now: float | None = None
) -> str:
    """The Celery message that runs `kennel.classify(job_ids)`, as Celery's Redis transport
    (kombu) stores it (Celery task protocol 2, JSON, base64 body): pushed with the jobs' own
    writes, so submitting is one round trip and needs no Celery client. The ids are also in the
    plain-JSON headers (`kennel_jobs`), where the lost-message rescue looks for them, with the
    moment the message was queued (`kennel_queued_at`, for promoting old batch work)."""
    ids = list(job_ids)
    kwargs = {"suspect": True} if suspect else {}
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    body = base64.b64encode(json.dumps([[ids], kwargs, embed]).encode()).decode()
    task_id = uuid.uuid4().hex
    headers = {
        "lang": "py",
        "task": TASK_NAME,
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "timelimit": [None, None],
        "argsrepr": repr([ids]),
        "kwargsrepr": repr(kwargs),
        "origin": f"{os.getpid()}@{socket.gethostname()}",
        "ignore_result": True,
        "kennel_jobs": ids,
        "kennel_queued_at": time.time() if now is None else now,
    }
    properties = {
        "correlation_id": task_id,
        "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": queue},
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


def store_jobs(
    pipe: Any, jobs: Sequence[tuple[Job, bytes]], job_ttl_s: int, image_ttl_s: int
) -> None:
    """The submit step, queued on a transaction pipeline (sync or async): each job's record,
    image and place in the queued set, and ONE queue message naming them all, all or nothing.
    The jobs share a priority (the message goes to that priority's queue)."""
    for job, image in jobs:
        pipe.set(job_key(job.id), job.model_dump_json(), ex=job_ttl_s)
        pipe.set(image_key(job.id), image, ex=image_ttl_s)
    pipe.zadd(QUEUED, {job.id: job.created_at.timestamp() for job, _ in jobs})
    queue = queue_for(jobs[0][0].priority)
    pipe.lpush(queue, queue_message([job.id for job, _ in jobs], queue=queue))


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
        self._promote = client.register_script(PROMOTE)

    @classmethod
    def connect(cls, redis_url: str, max_attempts: int) -> WorkerProtocol:
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        return cls(client, max_attempts)

    def start(self, job_id: str, worker: str) -> Started:
        return self.start_many([job_id], worker)[0]

    def start_many(self, job_ids: Sequence[str], worker: str) -> list[Started]:
        """Start the jobs of one message in one round trip; each is its own guarded script."""
        now = timestamp()
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            keys = [job_key(job_id), image_key(job_id), QUEUED, running_key(worker)]
            argv: list[str | int] = [job_id, worker, now, self.max_attempts, PREFIX]
            self._start(keys=keys, args=argv, client=pipe)
        return [_started(reply) for reply in pipe.execute()]

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
                keys=[job_key(e.job_id), image_key(e.job_id), QUEUED],
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
        """Send the jobs again: their worker died (suspects: one message each, as each runs
        alone), or their message was lost (one message for them all). They go to the head of
        the interactive queue (kombu takes from the right), whatever their priority: they
        waited already."""
        if not job_ids:
            return
        groups = [[i] for i in job_ids] if suspect else [list(job_ids)]
        self.redis.rpush(QUEUE_NAME, *(queue_message(g, suspect) for g in groups))

    def promote(self, cutoff: float) -> int:
        """Move the batch messages queued before `cutoff` (epoch seconds) to the front of the
        interactive queue: batch work waits behind interactive work, but not forever."""
        return int(self._promote(keys=[BATCH_QUEUE_NAME, QUEUE_NAME], args=[cutoff]))

    def retire(self, worker: str) -> None:
        self.redis.delete(worker_key(worker))

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
        if queue_length(self.redis) > max_queue:
            return None
        queued = [m for q in QUEUES for m in self.redis.lrange(q, 0, -1)]
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
    """Messages waiting in Celery's queues (not yet taken by a worker), of every priority."""
    return sum(int(client.llen(q)) for q in QUEUES)


async def queued_jobs(client: aioredis.Redis) -> int:
    """Jobs submitted and not started yet (a message may carry several)."""
    return int(await client.zcard(QUEUED))


async def read_job(client: aioredis.Redis, job_id: str) -> bytes | None:
    raw = await client.get(job_key(job_id))
    return raw if raw is None or isinstance(raw, bytes) else str(raw).encode()


async def served_models(client: aioredis.Redis) -> dict[str, ModelInfo]:
    raw = await client.hgetall(MODELS)
    return {_text(k): ModelInfo.model_validate_json(v) for k, v in raw.items()}


async def live_workers(client: aioredis.Redis) -> list[str]:
    names = [_text(key) async for key in client.scan_iter(WORKER_PATTERN)]
    return sorted(name.removeprefix(worker_key("")) for name in names)
