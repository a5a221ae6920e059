"""The job protocol: every Redis key, transition and Celery/kombu internal of a job's life.

Written once as steps, used by the API and the bot (`JobClient`), the worker and the metrics:

    submit   client  -> queued              the jobs one process submitted together: admission
                                            bounds, idempotency, records, queued set, accounting,
                                            images and ONE queue message naming them: one script
                                            (near the bytes bound: the images and message after);
                                            then WAIT until replicas hold them, when asked
    start    worker  queued|running -> running   counts the delivery; past the cap -> failed/poison
                                            (a message's jobs start in one pipelined round trip)
    finish   worker  running -> succeeded|failed  drops the image, wakes waiters
    cancel   client  queued|running -> canceled   a running job's later result is dropped
    expire   worker  queued past its deadline -> expired   (start checks the deadline too)
    reap     worker  running (dead worker) -> queued   a surviving worker requeues them, and
                                            sends again the ones it held, not started
    rescue   worker  queued (message lost) -> queued   sent again
    notify   (inside start and finish)   queues the job's webhook delivery with the transition
    retry    deliverer  a failed delivery waits in a sorted set, then goes back to its queue
    promote  worker  a batch message waiting too long moves to the front of the interactive queue

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
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import redis
import redis.asyncio as aioredis

from jobs.contract import (
    BATCH_QUEUE_NAME,
    QUEUE_NAME,
    READ_TIME_FIELDS,
    TASK_NAME,
    WEBHOOK_QUEUE_NAME,
    WEBHOOK_TASK_NAME,
    ErrorCode,
    Job,
    JobStatus,
    ModelInfo,
    Priority,
    WebhookEvent,
    utcnow,
)
from jobs.settings import QueueSettings

PREFIX = "kennel"
MODELS = f"{PREFIX}:models"  # hash: model name -> ModelInfo JSON, as workers announce them
WORKERS = f"{PREFIX}:workers"  # set: every worker that announced and has not retired
WORKER_PATTERN = f"{PREFIX}:worker:*"
QUEUED = f"{PREFIX}:queued"  # zset: jobs submitted and not started, by submission time
# The admission accounting (jobs waiting for each model: `waiting_key`; image bytes held for
# jobs not ended), kept by the QUEUE_LUA fragment below and nowhere else.
IMAGE_SIZES = f"{PREFIX}:image-sizes"  # hash: job id -> its image's bytes, until it is deleted
IMAGE_BYTES = f"{PREFIX}:image-bytes"  # string: the sum of IMAGE_SIZES
# Recent throughput: an exponentially weighted rate of a model's ended jobs, with this time
# constant; forgotten (unknown) after this long with no job ended.
THROUGHPUT_TAU_S = 30.0
THROUGHPUT_IDLE_S = 60
DEADLINES = f"{PREFIX}:deadlines"  # zset: queued jobs that have a deadline, by deadline (epoch)
DONE_CHANNEL = f"{PREFIX}:done"  # pub/sub: space-separated ids of jobs that just ended
# pub/sub: "<id> <record>" when a job starts running (the events stream's `running`)
RUNNING_CHANNEL = f"{PREFIX}:running"
ANNOUNCE_CHANNEL = f"{PREFIX}:announce"  # pub/sub: a worker announced its models
# Celery's Redis transport (kombu): each queue is a list named after it (kombu takes from the
# right); messages a worker took and has not acknowledged sit in this hash until acknowledged
# or restored. Workers read the queues in this order (kombu's `sorted` queue order).
QUEUES = (QUEUE_NAME, BATCH_QUEUE_NAME)
UNACKED = "unacked"
# zset: webhook deliveries waiting to be tried again (their Celery messages), by due time.
WEBHOOKS_DUE = f"{PREFIX}:webhooks:due"

ENDED = tuple(status for status in JobStatus if status.is_terminal())
_ENDED_LUA = "{" + ", ".join(f"[{json.dumps(s.value)}] = true" for s in ENDED) + "}"


def job_key(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def image_key(job_id: str) -> str:
    return f"{PREFIX}:image:{job_id}"


def waiting_key(model: str) -> str:
    """The zset of a model's waiting jobs, scored by their image's expiry (so: in order)."""
    return f"{PREFIX}:waiting:{model}"


def throughput_key(model: str) -> str:
    """Hash `rate` (jobs/s, as of `at`), `at`, `since` (Unix seconds): see `jobs.admission`."""
    return f"{PREFIX}:throughput:{model}"


def idempotency_key(digest: str) -> str:
    """`job-id fingerprint` of the job an Idempotency-Key (hashed with its owner) made."""
    return f"{PREFIX}:idempotency:{digest}"


def worker_key(name: str) -> str:
    """Exists while the worker's heartbeat is fresh; holds the names of its models."""
    return f"{PREFIX}:worker:{name}"


def running_key(name: str) -> str:
    """The set of jobs a worker has started and not finished."""
    return f"{PREFIX}:running:{name}"


def timestamp(moment: datetime | None = None) -> str:
    """A time as the job record writes it (pydantic's JSON form of an aware datetime)."""
    return (moment or utcnow()).isoformat().replace("+00:00", "Z")


def _celery_message(
    task: str, task_id: str, queue: str, args: list[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """A Celery message as Celery's Redis transport (kombu) stores it in `queue`'s list
    (Celery task protocol 2, JSON, base64 body): pushed with a step's own writes, so that
    step needs no Celery client."""
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    body = base64.b64encode(json.dumps([args, kwargs, embed]).encode()).decode()
    headers = {
        "lang": "py",
        "task": task,
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "timelimit": [None, None],
        "argsrepr": repr(args),
        "kwargsrepr": repr(kwargs),
        "origin": f"{os.getpid()}@{socket.gethostname()}",
        "ignore_result": True,
    }
    properties = {
        "correlation_id": task_id,
        "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": queue},
        "priority": 0,
        "body_encoding": "base64",
        "delivery_tag": str(uuid.uuid4()),
    }
    return {
        "body": body,
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": properties,
    }


def _webhook_template() -> str:
    """The webhook task's message as a Lua `string.format` pattern: `%s` for the body (a JSON
    string) and then the task id, four times. Lua has no base64, so the body is plain JSON
    (kombu reads a message without `body_encoding` as is)."""
    message = _celery_message(WEBHOOK_TASK_NAME, "@ID@", WEBHOOK_QUEUE_NAME, [], {})
    del message["properties"]["body_encoding"]
    message["body"] = "@BODY@"
    message["properties"]["delivery_tag"] = "@ID@"
    message["headers"]["argsrepr"] = message["headers"]["origin"] = "notify"
    text = json.dumps(message).replace("%", "%%")
    return text.replace('"@BODY@"', "%s").replace("@ID@", "%s")


# A Lua function for the scripts below: if the job's webhook asks for `event`, queue its
# delivery (the webhook task's arguments: url, the record as it stands, webhook id, attempt 1)
# in the same script as the transition, so no job changes state without its webhook queued.
# The webhook id names the job and the event (`tag`), the same on every retry of it.
_NOTIFY_LUA = f"""
local function notify(raw, job, event, tag)
  local hook = job.webhook
  if type(hook) ~= 'table' then return end
  for _, wanted in ipairs(hook.events) do
    if wanted == event then
      local id = 'msg_' .. job.id .. '_' .. tag
      local task = id .. '.1'
      local embed = {{callbacks = cjson.null, errbacks = cjson.null, chain = cjson.null,
        chord = cjson.null}}
      local body = cjson.encode({{{{hook.url, raw, id, 1}}, {{}}, embed}})
      local message = string.format([==[{_webhook_template()}]==], cjson.encode(body), task,
        task, task, task)
      redis.call('LPUSH', '{WEBHOOK_QUEUE_NAME}', message)
      return
    end
  end
end
"""
_RUNNING, _COMPLETED = WebhookEvent.RUNNING.value, WebhookEvent.COMPLETED.value

# Shared by the scripts: the admission accounting is written only here, so it stays in step
# whatever the path. A job waits (in its model's zset: what KENNEL_MAX_QUEUED counts) from
# submit (or reap) to start; its image's bytes are held (KENNEL_MAX_QUEUED_BYTES) from submit
# until the image is deleted (finish, poison; a cancel or expiry calls `leave_queue` too).
# Releasing is idempotent (a size is subtracted once, when its hash field goes), so a path that
# runs twice does no harm. `prune` forgets waiting jobs whose image expired: its bytes are no
# longer in Redis (a worker fails the job `image_expired` when it starts it).
QUEUE_LUA = f"""
local function waiting_key(model) return '{PREFIX}:waiting:' .. model end
local function enter_queue(id, model, size, image_expires_at)
  redis.call('ZADD', waiting_key(model), image_expires_at, id)
  if redis.call('HSETNX', '{IMAGE_SIZES}', id, size) == 1 then
    redis.call('INCRBY', '{IMAGE_BYTES}', size)
  end
end
local function release_image(id)
  local size = redis.call('HGET', '{IMAGE_SIZES}', id)
  if size then
    redis.call('HDEL', '{IMAGE_SIZES}', id)
    redis.call('DECRBY', '{IMAGE_BYTES}', size)
  end
end
local function leave_waiting(id, model)
  redis.call('ZREM', '{QUEUED}', id)
  redis.call('ZREM', waiting_key(model), id)
end
local function leave_queue(id, model)
  leave_waiting(id, model)
  release_image(id)
end
local function prune(now)
  for _, model in ipairs(redis.call('HKEYS', '{MODELS}')) do
    local gone = redis.call('ZRANGEBYSCORE', waiting_key(model), '-inf', now, 'LIMIT', 0, 100)
    for _, id in ipairs(gone) do
      redis.call('ZREM', waiting_key(model), id)
      release_image(id)
    end
  end
end
local function throughput_key(model) return '{PREFIX}:throughput:' .. model end
local function throughput(model)
  return redis.call('HMGET', throughput_key(model), 'rate', 'at', 'since')
end
local function count_ended(model, now)
  local key = throughput_key(model)
  local held = redis.call('HMGET', key, 'rate', 'at')
  local rate, at = tonumber(held[1]) or 0, tonumber(held[2]) or now
  rate = rate * math.exp(-math.max(0, now - at) / {THROUGHPUT_TAU_S}) + 1 / {THROUGHPUT_TAU_S}
  local exact = '%.17g'
  redis.call('HSET', key, 'rate', exact:format(rate), 'at', exact:format(math.max(now, at)))
  redis.call('HSETNX', key, 'since', exact:format(now))
  redis.call('EXPIRE', key, {THROUGHPUT_IDLE_S})
end
"""

# The one step every ending goes through (finish, poison, cancel, expire): the record is written
# (its TTL kept), the image, the job's place in the queued and deadline sets and on its worker
# go (and its admission accounting), waiters are woken unless the caller wakes a whole batch at
# once, and its `completed` webhook is queued. Returns the record.
END_JOB = (
    QUEUE_LUA
    + _NOTIFY_LUA
    + f"""
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
  leave_queue(id, job.model)
  redis.call('ZREM', '{DEADLINES}', id)
  if publish then redis.call('PUBLISH', '{DONE_CHANNEL}', id) end
  notify(raw, job, '{_COMPLETED}', '{_COMPLETED}')
  return raw
end
local ended = {_ENDED_LUA}
"""
)
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
redis.call('SREM', KEYS[4], ARGV[1])
local raw = redis.call('GET', KEYS[1])
if not raw then release_image(ARGV[1]) return {{'missing'}} end
local job = cjson.decode(raw)
if ended[job.status] then return {{'ended', raw}} end
local deadline = redis.call('ZSCORE', KEYS[5], ARGV[1])
if deadline and tonumber(deadline) <= tonumber(ARGV[6]) then
  job.error = {_EXPIRED_ERROR}
  return {{'expired', end_job(ARGV[1], job, '{JobStatus.EXPIRED.value}', ARGV[3], ARGV[5], true)}}
end
leave_waiting(ARGV[1], job.model)
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
notify(raw, job, '{_RUNNING}', '{_RUNNING}_' .. job.attempts)
redis.call('PUBLISH', '{RUNNING_CHANNEL}', ARGV[1] .. ' ' .. raw)
return {{'started', raw, redis.call('GET', KEYS[2])}}
"""
)

# KEYS: job. ARGV: id, status, now, result or error JSON, prefix, publish (1: wake waiters here;
# 0: the caller publishes once for a whole batch), now in Unix seconds (the throughput).
# Returns the ended record, or nil when the job had already ended (canceled, expired, a duplicate
# finished it, or its record is gone): nothing written, the result is dropped.
FINISH = (
    END_JOB
    + f"""
local raw = redis.call('GET', KEYS[1])
if not raw then release_image(ARGV[1]) return nil end
local job = cjson.decode(raw)
if ended[job.status] then return nil end
if ARGV[2] == '{JobStatus.SUCCEEDED.value}' then
  job.result = cjson.decode(ARGV[4])
else
  job.error = cjson.decode(ARGV[4])
end
count_ended(job.model, tonumber(ARGV[7]))
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
# Every worker whose heartbeat is gone: its running jobs go back to queued, and the queued jobs
# it held (received, not started: waiting at its gate or for room) are found. Returns {the
# requeued ids, the held ids}: both need a new message (the dead worker's own ones come back
# only after the redelivery timeout).
REAP = (
    QUEUE_LUA
    + """
local requeued, held = {}, {}
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
          local image = ARGV[1] .. ':image:' .. id
          local ttl_ms = redis.call('PTTL', image)
          if ttl_ms >= 0 then
            local expires_at = tonumber(ARGV[2]) + ttl_ms / 1000
            enter_queue(id, job.model, redis.call('STRLEN', image), expires_at)
          end
          table.insert(requeued, id)
        elseif job.status == 'queued' then
          table.insert(held, id)
        end
      end
    end
    redis.call('DEL', running)
    redis.call('SREM', KEYS[1], name)
  end
end
return {requeued, held}
"""
)

# ARGV: now (Unix seconds), model, max waiting (0: no bound), max image bytes (0: no bound), job
# TTL, image TTL, idempotency TTL, the Celery queue, its message naming every job here ('':
# `store_images` sends the images and the message once admitted); then per job: id, record,
# image size, idempotency key ('' for none), fingerprint, submission time, image ('': sent
# after), deadline (Unix seconds, '' for none). The jobs share a model and a priority.
# Returns, per job, {outcome, ...}: reused | existing, record | queued, full or full_bytes, then
# the position (-1: none), waiting, image bytes held, throughput (rate, at, since). Bounds,
# idempotency and the records are one atomic step: a burst cannot overshoot, one key makes one
# job (also twice in one call). The message names refused jobs too: a worker finds no record
# for them and skips them.
SUBMIT = (
    QUEUE_LUA
    + f"""
local now, model = tonumber(ARGV[1]), ARGV[2]
local max_waiting, max_bytes = tonumber(ARGV[3]), tonumber(ARGV[4])
local job_ttl, image_ttl = ARGV[5], tonumber(ARGV[6])
prune(now)
local waiting_set = waiting_key(model)
local rate = throughput(model)
local replies, any_queued = {{}}, false
for i = 10, #ARGV, 8 do
  local id, size, key, fingerprint = ARGV[i], tonumber(ARGV[i + 2]), ARGV[i + 3], ARGV[i + 4]
  local reply = nil
  if key ~= '' then
    local held = redis.call('GET', key)
    if held then
      local other, other_fingerprint = string.match(held, '^(%S+) (%S+)$')
      if other_fingerprint ~= fingerprint then
        reply = {{'reused'}}
      else
        local raw = redis.call('GET', '{PREFIX}:job:' .. other)
        if raw then reply = {{'existing', raw}} end
      end
    end
  end
  if not reply then
    local waiting = redis.call('ZCARD', waiting_set)
    local bytes = tonumber(redis.call('GET', '{IMAGE_BYTES}') or '0')
    if max_waiting > 0 and waiting >= max_waiting then
      reply = {{'full', -1, waiting, bytes, rate[1], rate[2], rate[3]}}
    elseif max_bytes > 0 and bytes + size > max_bytes then
      reply = {{'full_bytes', -1, waiting, bytes, rate[1], rate[2], rate[3]}}
    else
      redis.call('SET', '{PREFIX}:job:' .. id, ARGV[i + 1], 'EX', job_ttl)
      redis.call('ZADD', '{QUEUED}', ARGV[i + 5], id)
      enter_queue(id, model, size, now + image_ttl)
      if key ~= '' then
        redis.call('SET', key, id .. ' ' .. fingerprint, 'EX', ARGV[7])
      end
      if ARGV[i + 7] ~= '' then redis.call('ZADD', '{DEADLINES}', ARGV[i + 7], id) end
      if ARGV[i + 6] ~= '' then
        redis.call('SET', '{PREFIX}:image:' .. id, ARGV[i + 6], 'EX', image_ttl)
      end
      any_queued = true
      local position = redis.call('ZRANK', waiting_set, id)
      reply = {{'queued', position, waiting + 1, bytes + size, rate[1], rate[2], rate[3]}}
    end
  end
  table.insert(replies, reply)
end
if any_queued and ARGV[9] ~= '' then redis.call('LPUSH', ARGV[8], ARGV[9]) end
return replies
"""
)

# KEYS: job, image. ARGV: id, idempotency key ('' for none). Undoes a submission its replicas
# did not confirm (`ClientProtocol.submit`), so that its 503 means "not accepted"; its queue
# message stays: the start step finds no record and skips it.
WITHDRAW = (
    QUEUE_LUA
    + f"""
local raw = redis.call('GET', KEYS[1])
if raw then leave_queue(ARGV[1], cjson.decode(raw).model) end
redis.call('ZREM', '{DEADLINES}', ARGV[1])
redis.call('DEL', KEYS[1], KEYS[2])
if ARGV[2] ~= '' then redis.call('DEL', ARGV[2]) end
"""
)

# ARGV: model, job id ('' for none). Returns {position (-1: not waiting), waiting, rate, at,
# since}: what a queued job's place and the estimates are computed from.
QUEUE_STATE = (
    QUEUE_LUA
    + """
local key = waiting_key(ARGV[1])
local position = false
if ARGV[2] ~= '' then position = redis.call('ZRANK', key, ARGV[2]) end
local rate = throughput(ARGV[1])
return {position or -1, redis.call('ZCARD', key), rate[1], rate[2], rate[3]}
"""
)

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


@dataclass(frozen=True)
class Cancellation:
    """What the cancel step did: `outcome` is missing | ended | canceled; `record` the job as it
    stands after it; `was` the state it was canceled from."""

    outcome: str
    record: bytes | None
    was: JobStatus | None


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
    """The Celery message that runs `kennel.classify(job_ids)`: pushed with the jobs' own
    writes, so submitting is one round trip and needs no Celery client. The ids are also in the
    plain-JSON headers (`kennel_jobs`), where the lost-message rescue looks for them, with the
    moment the message was queued (`kennel_queued_at`, for promoting old batch work)."""
    ids = list(job_ids)
    kwargs = {"suspect": True} if suspect else {}
    message = _celery_message(TASK_NAME, uuid.uuid4().hex, queue, [ids], kwargs)
    message["headers"]["kennel_jobs"] = ids
    message["headers"]["kennel_queued_at"] = time.time() if now is None else now
    return json.dumps(message)


def webhook_message(url: str, body: str, webhook_id: str, attempt: int) -> str:
    """The Celery message for one more try of a webhook delivery (see `WebhookProtocol`)."""
    task_id = f"{webhook_id}.{attempt}"
    args = [url, body, webhook_id, attempt]
    return json.dumps(_celery_message(WEBHOOK_TASK_NAME, task_id, WEBHOOK_QUEUE_NAME, args, {}))


@dataclass(frozen=True)
class Throughput:
    """A model's ended jobs as the finish step counts them: an exponentially weighted `rate`
    (jobs/s) as of `at`, counted `since` (Unix seconds); `jobs.admission` reads it."""

    rate: float
    at: float
    since: float


@dataclass(frozen=True)
class QueueState:
    """A model's queue at one moment, as the scripts read it; `jobs.admission` estimates from
    it. `throughput` is None when no job of the model ended lately."""

    waiting: int
    throughput: Throughput | None
    now: float
    position: int | None = None  # the job's place among the waiting (0: next), when asked
    image_bytes: int = 0  # image bytes held for jobs not ended (all models)


@dataclass(frozen=True)
class Admitted:
    """What the submit step did: `queued` (with `state`), or refused it (`full`,
    `full_bytes`: `state` says why), or found the idempotency key's job (`existing`, its
    `record`) or the key used for another submission (`reused`), or stored it and then
    withdrew it because fewer replicas than asked confirmed it in time (`unreplicated`)."""

    outcome: str
    state: QueueState | None = None
    record: bytes | None = None
    replicas: int = 0  # how many replicas confirmed a `queued` job, when some were asked for


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key, hashed with its owner, and the fingerprint of what it submitted."""

    key: str
    fingerprint: str


def _state(reply: Sequence[Any], now: float, position: int | None, bytes_: int = 0) -> QueueState:
    """A QueueState from a script's `waiting, rate, at, since`."""
    waiting, *rate = reply
    held = None if None in rate else Throughput(*(float(v) for v in rate))
    return QueueState(int(waiting), held, now, position, bytes_)


@dataclass(frozen=True)
class Entry:
    """One job of a submission: its record, its image and its Idempotency-Key (if any)."""

    job: Job
    image: bytes
    idempotency: Idempotency | None = None


def submit_call(
    entries: Sequence[Entry], settings: QueueSettings, now: float, inline: bool = True
) -> list[str | int | bytes]:
    """The SUBMIT script's arguments for jobs of one model and priority; `inline`: the images
    and the one queue message (naming them all) ride along."""
    first = entries[0].job
    queue = queue_for(first.priority)
    message = queue_message([e.job.id for e in entries], queue=queue) if inline else ""
    args: list[str | int | bytes] = [
        repr(now),
        first.model,
        settings.max_queued,
        settings.max_queued_bytes,
        settings.job_ttl_s,
        settings.image_ttl_s,
        settings.idempotency_ttl_s,
        queue,
        message,
    ]
    for entry in entries:
        job, once = entry.job, entry.idempotency or Idempotency("", "")
        args += [
            job.id,
            job.model_dump_json(exclude=READ_TIME_FIELDS),
            len(entry.image),
            once.key,
            once.fingerprint,
            repr(job.created_at.timestamp()),
            entry.image if inline else "",
            "" if job.deadline_at is None else repr(job.deadline_at.timestamp()),
        ]
    return args


def store_images(pipe: Any, entries: Sequence[Entry], image_ttl_s: int) -> None:
    """The submit step's second half, on a pipeline (sync or async), once SUBMIT admitted the
    jobs: their images, then one queue message naming them (so no worker takes them before;
    a message lost between the two is sent again by the lost-message rescue)."""
    for entry in entries:
        pipe.set(image_key(entry.job.id), entry.image, ex=image_ttl_s)
    queue = queue_for(entries[0].job.priority)
    pipe.lpush(queue, queue_message([e.job.id for e in entries], queue=queue))


def admitted(reply: Sequence[Any], now: float) -> Admitted:
    """One job's part of the SUBMIT script's reply, read."""
    outcome = _text(reply[0])
    if outcome == "existing":
        return Admitted(outcome, record=reply[1])
    if outcome == "reused":
        return Admitted(outcome)
    position, waiting, held, *rate = reply[1:]
    place = None if int(position) < 0 else int(position)
    return Admitted(outcome, _state([waiting, *rate], now, place, int(held)))


class ClientProtocol:
    """The client side's steps (the API and the bot): submit, cancel, read the queue;
    asynchronous."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client
        self._submit = client.register_script(SUBMIT)
        self._queue_state = client.register_script(QUEUE_STATE)
        self._withdraw = client.register_script(WITHDRAW)
        self._cancel = client.register_script(CANCEL)
        # Image bytes held in Redis as the last submission saw them, and those this process is
        # sending inside SUBMIT scripts now: the rule for sending images along (below).
        self._held_bytes = 0
        self._sending_bytes = 0

    async def submit(self, entries: Sequence[Entry], settings: QueueSettings) -> list[Admitted]:
        """Admit and store jobs of one model and priority, queued by ONE message; what
        happened to each. While the image bytes held plus those this process is sending stay
        within half of KENNEL_MAX_QUEUED_BYTES, the images ride along: one round trip. Nearer
        the bound they are sent only once admitted (one more round trip), so a burst of
        refused uploads never fills Redis's client buffers. With replicas to wait for
        (KENNEL_REDIS_MIN_REPLICAS), a WAIT follows the last write on its connection (WAIT
        does not block inside a MULTI), and jobs they do not confirm in time are withdrawn."""
        now = time.time()
        bound = settings.max_queued_bytes
        size = sum(len(e.image) for e in entries)
        inline = bound == 0 or self._held_bytes + self._sending_bytes + size <= bound // 2
        args = submit_call(entries, settings, now, inline)
        replicas = settings.replicas_to_wait
        self._sending_bytes += size if inline else 0
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                await self._submit(keys=[], args=args, client=pipe)
                if inline and replicas:
                    pipe.wait(replicas, settings.redis_replica_timeout_ms)
                replies = await pipe.execute()
        finally:
            self._sending_bytes -= size if inline else 0
        results = [admitted(reply, now) for reply in replies[0]]
        for result in results:
            if result.state is not None:
                self._held_bytes = result.state.image_bytes
        queued = [e for e, r in zip(entries, results, strict=True) if r.outcome == "queued"]
        if not queued:
            return results
        if not inline:
            async with self._redis.pipeline(transaction=False) as pipe:
                store_images(pipe, queued, settings.image_ttl_s)
                if replicas:
                    pipe.wait(replicas, settings.redis_replica_timeout_ms)
                replies = await pipe.execute()
        if not replicas:
            return results
        confirmed = int(replies[-1])
        outcome = "queued" if confirmed >= replicas else "unreplicated"
        if outcome == "unreplicated":
            async with self._redis.pipeline(transaction=False) as pipe:
                for entry in queued:
                    once = entry.idempotency.key if entry.idempotency else ""
                    job_id = entry.job.id
                    keys = [job_key(job_id), image_key(job_id)]
                    await self._withdraw(keys=keys, args=[job_id, once], client=pipe)
                await pipe.execute()
        return [
            replace(r, outcome=outcome, replicas=confirmed) if r.outcome == "queued" else r
            for r in results
        ]

    async def cancel(self, job_id: str) -> Cancellation:
        reply = await self._cancel(keys=[job_key(job_id)], args=[job_id, timestamp(), PREFIX])
        outcome = _text(reply[0])
        record = reply[1] if len(reply) > 1 else None
        was = JobStatus(_text(reply[2])) if len(reply) > 2 else None
        return Cancellation(outcome, record, was)

    async def queue_state(self, model: str, job_id: str = "") -> QueueState:
        """The model's queue now; with a job id, that job's position too."""
        now = time.time()
        reply = await self._queue_state(args=[model, job_id])
        position = int(reply[0])
        return _state(reply[1:], now, None if position < 0 else position)


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
        self._promote = client.register_script(PROMOTE)

    def start(self, job_id: str, worker: str) -> Started:
        return self.start_many([job_id], worker)[0]

    def start_many(self, job_ids: Sequence[str], worker: str) -> list[Started]:
        """Start the jobs of one message in one round trip; each is its own guarded script."""
        now = utcnow()
        pipe = self.redis.pipeline(transaction=False)
        for job_id in job_ids:
            keys = [job_key(job_id), image_key(job_id), QUEUED, running_key(worker), DEADLINES]
            argv: list[str | int | float] = [
                job_id,
                worker,
                timestamp(now),
                self.max_attempts,
                PREFIX,
                now.timestamp(),
            ]
            self._start(keys=keys, args=argv, client=pipe)
        return [_started(reply) for reply in pipe.execute()]

    def finish(self, job_id: str, status: JobStatus, payload: str) -> Job | None:
        """End a running job; None when it had already ended (a late duplicate)."""
        return self.finish_many([Ending(job_id, status, payload)])[0]

    def finish_many(self, endings: Sequence[Ending]) -> list[Job | None]:
        """End several jobs in one round trip with one wake-up; None for each that had
        already ended. Each job's transition is its own guarded script; the wake-up names
        them all (a waiter woken for a job that had ended already just reads it again)."""
        now, unix = timestamp(), repr(time.time())
        pipe = self.redis.pipeline(transaction=False)
        for e in endings:
            self._finish(
                keys=[job_key(e.job_id)],
                args=[e.job_id, e.status.value, now, e.payload, PREFIX, 0, unix],
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

    def expire(self, limit: int = 100) -> list[Job]:
        """End every queued job whose deadline has passed (`expired`); the jobs it ended."""
        now = utcnow()
        records = self._expire(
            keys=[DEADLINES], args=[now.timestamp(), timestamp(now), PREFIX, limit]
        )
        return [Job.model_validate_json(raw) for raw in records]

    def hold(self, job_ids: Sequence[str], worker: str) -> None:
        """Note the jobs of a message this worker received, before they wait for its gate or
        for room: should it die before starting them, `reap` finds them in its running set
        (the start step, or the reap, forgets them)."""
        self.redis.sadd(running_key(worker), *job_ids)

    def reap(self, now: float) -> tuple[list[str], list[str]]:
        """For every worker whose heartbeat is gone: its running jobs, requeued, and the queued
        jobs it held; the ids of both (each needs a new message)."""
        requeued, held = self._reap(keys=[WORKERS, QUEUED], args=[PREFIX, now])
        return [_text(i) for i in requeued], [_text(i) for i in held]

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


# KEYS: due set, webhook queue. ARGV: now (epoch seconds), limit. Moves the retries that are
# due back to the webhook queue, each once (even with several deliverers); returns how many
# still wait.
RELEASE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, message in ipairs(due) do
  redis.call('ZREM', KEYS[1], message)
  redis.call('LPUSH', KEYS[2], message)
end
return redis.call('ZCARD', KEYS[1])
"""


class WebhookProtocol:
    """The deliverer's steps. A failed delivery is not retried with Celery's countdown (the
    message would sit unacknowledged in the deliverer and, past the visibility timeout, be
    delivered again by kombu): its next try goes into a sorted set by due time, the message is
    acknowledged, and `release_due` puts it back on the queue when it is due."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client
        self._release = client.register_script(RELEASE_DUE)

    @classmethod
    def connect(cls, redis_url: str) -> WebhookProtocol:
        return cls(redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5))

    def retry_later(self, url: str, body: str, webhook_id: str, attempt: int, due: float) -> None:
        """Try attempt number `attempt` of this delivery at `due` (epoch seconds)."""
        self.redis.zadd(WEBHOOKS_DUE, {webhook_message(url, body, webhook_id, attempt): due})

    def release_due(self, now: float, limit: int = 100) -> int:
        """Queue the retries due by `now` (at most `limit`); how many still wait."""
        return int(self._release(keys=[WEBHOOKS_DUE, WEBHOOK_QUEUE_NAME], args=[now, limit]))


def queue_length(client: redis.Redis) -> int:
    """Messages waiting in Celery's queues (not yet taken by a worker), of every priority."""
    return sum(int(client.llen(q)) for q in QUEUES)


async def queued_jobs(client: aioredis.Redis) -> int:
    """Jobs submitted and not started yet (a message may carry several)."""
    return int(await client.zcard(QUEUED))


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
