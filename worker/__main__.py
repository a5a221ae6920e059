"""python -m worker: load the models once, then consume jobs until stopped.

The whole process is wired here: the protocol, the models, the Celery app and the heartbeat.
"""

import functools
import logging
import sys
from typing import Any

from celery.signals import worker_ready

from jobs.contract import QUEUE_NAME
from jobs.protocol import WorkerProtocol
from worker import metrics
from worker.app import create_celery, requeue
from worker.errors import ModelLoadError
from worker.heartbeat import Heartbeat
from worker.rescue import Rescuer
from worker.runtime import WorkerRuntime
from worker.settings import WorkerSettings

log = logging.getLogger("worker")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = WorkerSettings()
    protocol = WorkerProtocol.connect(settings.queue.redis_url, settings.queue.max_attempts)
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
        requeue=functools.partial(requeue, app),
        # A job still not started after twice the redelivery timeout, with no message
        # anywhere, lost it in a dying worker; see worker/rescue.py.
        rescuer=Rescuer(protocol, 2 * settings.queue.redelivery_timeout_s),
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
                f"--queues={QUEUE_NAME}",
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
