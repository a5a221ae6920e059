"""How every kennel process reaches Redis: one server by URL, or the master a Sentinel set names.

`KENNEL_REDIS_URL` alone: every client connects to that server, as always. With
`KENNEL_REDIS_SENTINELS` (`host:port,host:port,...`) and `KENNEL_REDIS_MASTER`, every new
connection first asks the sentinels where the master is, so after a failover clients reconnect
to the new master by themselves (between the loss of the master and the failover, they fail with
a `ConnectionError`, which the API answers 503). The URL then gives only the database number and
the credentials. The API's and the bot's asynchronous clients, the worker's synchronous ones and
Celery's broker (kombu's `sentinel://` transport) are all built here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel as asentinel
import redis.sentinel

from jobs.settings import QueueSettings, parse_sentinels

# How long a question to a sentinel may take: one that does not answer is skipped for the next.
SENTINEL_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class RedisTarget:
    """Where the jobs live: `url`, or the master `master` of the `sentinels` (when any)."""

    url: str
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = ""

    @classmethod
    def from_settings(cls, settings: QueueSettings) -> RedisTarget:
        sentinels = parse_sentinels(settings.redis_sentinels) if settings.redis_sentinels else ()
        return cls(settings.redis_url, sentinels, settings.redis_master)

    def sync_client(self, **options: Any) -> redis.Redis:
        """A client (its own pool) of the server or the current master; `options` are
        redis-py connection options (socket_timeout, ...)."""
        if not self.sentinels:
            return redis.Redis.from_url(self.url, **options)
        manager = redis.sentinel.Sentinel(self.sentinels, sentinel_kwargs=_SENTINEL_KWARGS)  # type: ignore[no-untyped-call]
        client: redis.Redis = manager.master_for(  # type: ignore[no-untyped-call]
            self.master, redis_class=_SentinelClient, **self._master_kwargs(), **options
        )
        return client

    def async_client(self, max_connections: int, wait_s: float, **options: Any) -> aioredis.Redis:
        """An asyncio client whose pool holds at most `max_connections`: one more request
        waits up to `wait_s` for a free connection instead of failing."""
        if not self.sentinels:
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url, max_connections=max_connections, timeout=wait_s, **options
            )
            return aioredis.Redis.from_pool(pool)
        manager = asentinel.Sentinel(self.sentinels, sentinel_kwargs=_SENTINEL_KWARGS)  # type: ignore[no-untyped-call]
        client: aioredis.Redis = manager.master_for(
            self.master,
            redis_class=_AsyncSentinelClient,
            connection_pool_class=_BlockingSentinelPool,
            max_connections=max_connections,
            timeout=wait_s,
            **self._master_kwargs(),
            **options,
        )
        return client

    def broker_url(self) -> str:
        """Celery's broker: the URL, or kombu's `sentinel://h1:p1/db;sentinel://h2:p2/db`."""
        if not self.sentinels:
            return self.url
        kwargs = self._master_kwargs()
        auth = ""
        if kwargs.get("password"):
            user = quote(kwargs.get("username") or "", safe="")
            auth = f"{user}:{quote(kwargs['password'], safe='')}@"
        db = kwargs.get("db", 0)
        return ";".join(f"sentinel://{auth}{host}:{port}/{db}" for host, port in self.sentinels)

    def broker_options(self) -> dict[str, Any]:
        """Transport options Celery's broker needs to find the master (none without sentinels)."""
        if not self.sentinels:
            return {}
        return {"master_name": self.master, "sentinel_kwargs": _SENTINEL_KWARGS}

    def _master_kwargs(self) -> dict[str, Any]:
        """What the URL still says with sentinels: the database number and the credentials."""
        parts = urlsplit(self.url)
        kwargs: dict[str, Any] = {"db": int(parts.path.strip("/") or 0)}
        if parts.username:
            kwargs["username"] = unquote(parts.username)
        if parts.password:
            kwargs["password"] = unquote(parts.password)
        return kwargs


_SENTINEL_KWARGS = {
    "socket_connect_timeout": SENTINEL_TIMEOUT_S,
    "socket_timeout": SENTINEL_TIMEOUT_S,
}


class _SentinelClient(redis.Redis):
    """A client of the master that, closed, also closes its connections to the sentinels."""

    def close(self) -> None:
        pool = self.connection_pool
        super().close()
        if isinstance(pool, redis.sentinel.SentinelConnectionPool):
            pool.sentinel_manager.close()


class _AsyncSentinelClient(aioredis.Redis):
    """The same for asyncio."""

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        pool = self.connection_pool
        await super().aclose(close_connection_pool)
        if isinstance(pool, asentinel.SentinelConnectionPool):
            await pool.sentinel_manager.aclose()


class _BlockingSentinelPool(asentinel.SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """The master's connections, found through the sentinels (SentinelConnectionPool), in a pool
    that makes a request wait for a free connection when all are taken (BlockingConnectionPool),
    as the plain URL's pool does."""


def connect(settings: QueueSettings, **options: Any) -> redis.Redis:
    """A synchronous client of the jobs' Redis (the worker, metrics, healthchecks)."""
    return RedisTarget.from_settings(settings).sync_client(**options)
