"""python -m stack (`make up`): Redis, one worker and the API, in the foreground."""

from __future__ import annotations

import logging
import signal
import sys
import time
from types import FrameType

from api.settings import ApiSettings
from stack.processes import ROOT, StartupFailed
from stack.system import LocalSystem

log = logging.getLogger("stack")


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = ApiSettings()
    system = LocalSystem(
        ROOT / "var",
        api_host=settings.host,
        api_port=settings.port,
        redis_url=settings.queue.redis_url,
    )
    signal.signal(signal.SIGTERM, _terminate)
    if system.embedded is None:
        log.info("Redis: using %s", system.redis_url)
    else:
        log.info(
            "Redis: nothing answers at %s; starting an embedded redis-server at %s "
            "(data in var/redis)",
            settings.queue.redis_url,
            system.redis_url,
        )
    log.info("Starting a worker and the API (logs in var/logs) ...")
    try:
        system.start()
        _banner(system.api_url)
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
        system.stop()


def _banner(url: str) -> None:
    log.info(
        "\nkennel is up.\n  API:  %s\n  docs: %s/docs\n"
        "  try:  curl -F image=@tests/data/photos/grad_dog_cat.jfif %s/predict\n"
        "Ctrl-C stops everything.",
        url,
        url,
        url,
    )


if __name__ == "__main__":
    main()
