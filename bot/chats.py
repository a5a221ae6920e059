"""What the bot remembers per chat, in Redis: the chosen model and the rate-limit window.

Both live in Redis rather than in the process so that a restarted bot, or several webhook
replicas behind one token, see the same choice and the same limit. Without Redis no job can be
queued anyway, so depending on it here adds no new way to fail; an outage surfaces as
`QueueUnavailable`, like every other queue call.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from bot.errors import RateLimited
from jobs.client import outage_as_unavailable
from jobs.protocol import PREFIX


def chat_key(chat_id: int, what: str) -> str:
    return f"{PREFIX}:bot:chat:{chat_id}:{what}"


class ChatModels:
    """The model each chat asked for with /model; chats that never asked use the default."""

    def __init__(self, redis: aioredis.Redis, default: str) -> None:
        self._redis = redis
        self.default = default

    async def get(self, chat_id: int) -> str:
        async with outage_as_unavailable():
            raw = await self._redis.get(chat_key(chat_id, "model"))
        if raw is None:
            return self.default
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def set(self, chat_id: int, model: str) -> None:
        async with outage_as_unavailable():
            await self._redis.set(chat_key(chat_id, "model"), model)


class RateLimiter:
    """At most `limit` images per chat in a window that opens with the chat's first image.

    A fixed window per chat (SET NX EX, then INCR, in one transaction): two commands, atomic,
    and the window cannot split an album the way clock-aligned windows can.
    """

    def __init__(self, redis: aioredis.Redis, limit: int, window_s: int) -> None:
        self._redis = redis
        self.limit = limit
        self.window_s = window_s

    async def acquire(self, chat_id: int) -> None:
        key = chat_key(chat_id, "rate")
        async with outage_as_unavailable(), self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=self.window_s, nx=True)
            pipe.incr(key)
            _, count = await pipe.execute()
        if count > self.limit:
            raise RateLimited(self.limit, self.window_s)
