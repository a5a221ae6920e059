"""python -m worker: load the models once, then consume jobs until stopped."""

import logging
import sys

from jobs.contract import QUEUE_NAME
from worker import metrics
from worker.app import create_celery
from worker.errors import ModelLoadError
from worker.memory import return_large_blocks_to_os
from worker.runtime import WorkerRuntime
from worker.settings import WorkerSettings
from worker.store import WorkerStore

log = logging.getLogger("worker")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return_large_blocks_to_os()
    settings = WorkerSettings()
    store = WorkerStore.connect(settings.queue)
    try:
        runtime = WorkerRuntime.load(settings, store)
    except ModelLoadError as exc:
        log.critical("cannot start: %s", exc)
        sys.exit(3)
    app = create_celery(settings, runtime)
    runtime.start()
    metrics.serve(settings.metrics_port, settings.metrics_host)
    try:
        app.worker_main(
            [
                "worker",
                "--loglevel=INFO",
                f"--hostname=kennel@{runtime.name}",
                f"--queues={QUEUE_NAME}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        )
    finally:
        runtime.stop()


if __name__ == "__main__":
    main()
