"""Is kennel up? The API answers /healthz; workers announce themselves in Redis."""

import urllib.request

import redis

from jobs import protocol


def workers_announced(redis_url: str) -> int:
    try:
        with redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1) as client:
            return sum(1 for _ in client.scan_iter(protocol.WORKER_PATTERN))
    except (redis.exceptions.RedisError, OSError):
        return 0


def api_healthy(url: str) -> bool:
    return answers_http(f"{url}/healthz")


def answers_http(url: str) -> bool:
    """GET `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False
