"""python -m worker: load the models once, then consume jobs until stopped.

The whole process is wired here: the protocol, the models, the Celery app and the heartbeat.
"""

import logging
import sys
from typing import Any

from celery.signals import worker_ready

from jobs.connection import connect
from jobs.protocol import QUEUES, WorkerProtocol
from worker import metrics
from worker.app import create_celery
from worker.errors import ModelLoadError
from worker.heartbeat import Heartbeat
from worker.memory import return_large_blocks_to_os
from worker.rescue import Rescuer
from worker.runtime import WorkerRuntime
from worker.settings import WorkerSettings

log = logging.getLogger("worker")
# Celery logs two INFO lines per task ("received", "succeeded in"): on the hot path, so only
# their warnings; jobs are counted in the worker's metrics instead.
PER_TASK_LOGGERS = ("celery.worker.strategy", "celery.app.trace")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return_large_blocks_to_os()
    for name in PER_TASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    settings = WorkerSettings()
    client = connect(settings.queue, socket_connect_timeout=2, socket_timeout=5)
    protocol = WorkerProtocol(client, settings.queue.max_attempts)
    try:
        runtime = WorkerRuntime.load(settings, protocol)
    except ModelLoadError as exc:
        log.critical("cannot start: %s", exc)
        sys.exit(3)
    app = create_celery(settings, runtime.run)
    heartbeat = Heartbeat(
        protocol,
        runtime.name,
        runtime.infos(),
        settings.heartbeat_s,
        # A job not started three beats after it was queued, with no message anywhere, lost
        # it in a worker that died or was cut off while taking it; see worker/rescue.py.
        rescuer=Rescuer(protocol, 3 * settings.heartbeat_s),
        promote_after_s=settings.queue.batch_promote_after_s,
    )

    def announce(**_: Any) -> None:
        heartbeat.start()

    worker_ready.connect(announce, weak=False)
    runtime.start()
    metrics.serve(settings.metrics_port, settings.metrics_host)
    try:
        app.worker_main(
            [
                "worker",
                "--loglevel=INFO",
                f"--hostname=kennel@{runtime.name}",
                f"--queues={','.join(QUEUES)}",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ]
        )
    finally:
        heartbeat.stop()
        runtime.stop()


if __name__ == "__main__":
    main()
