"""How many kennel workers are serving? (Each announces itself in Redis; see worker/runtime.py.)"""

import redis

from jobs import keys


def workers_announced(redis_url: str) -> int:
    try:
        with redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1) as client:
            return sum(1 for _ in client.scan_iter(keys.WORKER_PATTERN))
    except (redis.exceptions.RedisError, OSError):
        return 0
