"""python -m stack (`make up`): Redis, one worker, the webhook deliverer and the API, in the
foreground."""

from __future__ import annotations

import logging
import signal
import sys
import time
from types import FrameType

from api.settings import ApiSettings
from stack.processes import ROOT, StartupFailed
from stack.redis import choose
from stack.system import LocalSystem

log = logging.getLogger("stack")


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _ignore_signals() -> None:
    """While stopping: a second Ctrl-C or SIGTERM must not cut the stop short (and leave
    children running); every service's stop is bounded, SIGKILL after 15 s."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    signal.signal(signal.SIGTERM, _terminate)
    settings = ApiSettings()
    if settings.queue.redis_sentinels:
        log.error(
            "KENNEL_REDIS_SENTINELS is set, but `make up` runs one Redis (its own, or the one at "
            "KENNEL_REDIS_URL) and would not follow a failover. With Sentinel, run the services "
            "themselves: python -m api, python -m worker (docs/deploy.md)."
        )
        sys.exit(2)
    url = settings.queue.redis_url
    redis = choose(url, explicit="redis_url" in settings.queue.model_fields_set)
    system = LocalSystem(
        ROOT / "var",
        api_host=settings.host,
        api_port=settings.port,
        redis_url=url if redis.adopt else None,
    )
    if redis.loud:
        log.warning("\n%s\nWARNING: %s\n%s", "!" * 72, redis.reason, "!" * 72)
    elif redis.adopt:
        log.info("Redis: %s", redis.reason)
    else:
        log.info(
            "Redis: %s; starting an embedded redis-server at %s (append-only file, fsync every "
            "second; data in var/redis)",
            redis.reason,
            system.redis_url,
        )
    log.info("Starting a worker, the webhook deliverer and the API (logs in var/logs) ...")
    try:
        system.start()
        _banner(system)
        while not system.dead():
            time.sleep(0.5)
        dead = system.dead()[0]
        log.error(
            "%s stopped (exit %s); its log ends:\n%s", dead.name, dead.returncode(), dead.log_tail()
        )
        sys.exit(1)
    except (StartupFailed, RuntimeError) as exc:
        log.error("kennel did not start: %s", exc)
        sys.exit(1)
    except KeyboardInterrupt:
        log.info("Stopping ...")
    finally:
        _ignore_signals()
        system.stop()


def _banner(system: LocalSystem) -> None:
    url = system.api_url
    metrics = "".join(f"\n    {name}: {where}" for name, where in system.metrics_urls().items())
    log.info(
        "\nkennel is up.\n  API:  %s\n  docs: %s/docs\n  metrics (Prometheus text):%s\n"
        "  try:  curl -F image=@tests/data/photos/grad_dog_cat.jfif %s/predict\n"
        "Ctrl-C stops everything.",
        url,
        url,
        metrics,
        url,
    )


if __name__ == "__main__":
    main()
