"""python -m worker.webhooks: deliver jobs' webhooks from their own queue until stopped.

Its own process, so a slow receiver never holds an inference thread, and it loads no model.
"""

import logging
import os
import socket
import sys

from jobs import metrics
from jobs.contract import WEBHOOK_QUEUE_NAME
from jobs.protocol import WebhookProtocol
from jobs.settings import QueueSettings
from jobs.webhooks.delivery import count_from_zero, http_client, signer_of
from jobs.webhooks.settings import WebhookSettings
from jobs.webhooks.signing import InvalidSecret
from worker.webhooks.app import create_celery
from worker.webhooks.deliverer import Deliverer, RetryReleaser

log = logging.getLogger("worker.webhooks")
# A line per delivery (Celery's "received", "succeeded in", httpx's request): counted in the
# metrics instead; their warnings still show.
PER_DELIVERY_LOGGERS = ("celery.worker.strategy", "celery.app.trace", "httpx")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in PER_DELIVERY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    queue, settings = QueueSettings(), WebhookSettings()
    try:
        signer = signer_of(settings)
    except InvalidSecret as exc:
        log.critical("cannot start: KENNEL_WEBHOOK_SECRET: %s", exc)
        sys.exit(3)
    if signer is None:
        log.warning("KENNEL_WEBHOOK_SECRET is unset: webhooks go out unsigned")
    protocol = WebhookProtocol.connect(queue.redis_url)
    releaser = RetryReleaser(protocol)
    with http_client(settings) as client:
        deliverer = Deliverer(protocol, settings, client, signer)
        app = create_celery(queue, settings, deliverer.deliver)
        count_from_zero()
        metrics.serve(settings.metrics_port, settings.metrics_host, "KENNEL_WEBHOOK_METRICS_PORT")
        releaser.start()
        try:
            app.worker_main(
                [
                    "worker",
                    "--loglevel=INFO",
                    f"--hostname=kennel-webhooks@{socket.gethostname()}:{os.getpid()}",
                    f"--queues={WEBHOOK_QUEUE_NAME}",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ]
            )
        finally:
            releaser.stop()


if __name__ == "__main__":
    main()
