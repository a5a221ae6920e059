"""Requeue jobs whose queue message was lost.

Celery's Redis transport takes a message off the queue (BRPOP) and only then records it as
unacknowledged; a worker killed between the two loses that message, and its job would wait
forever. The job record is the truth: a job still not started long after it was submitted,
whose id is in neither the queue nor any worker's unacknowledged messages, is sent again.
Running a job twice is harmless: a worker skips jobs that already ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from jobs.contract import JobStatus
from worker.store import WorkerStore

log = logging.getLogger(__name__)

# Past this queue length a lost message is not looked for: reading every message on every
# heartbeat would cost more than it saves, and the queue is busy being worked through anyway.
MAX_QUEUE_SCANNED = 1000
BATCH = 100


@dataclass
class Rescuer:
    store: WorkerStore
    send: Callable[[str], None]
    after_s: float

    def sweep(self, now: float) -> list[str]:
        """Requeue the jobs that lost their message; return their ids."""
        overdue = self.store.queued_before(now - self.after_s, BATCH)
        if not overdue:
            return []
        in_flight = self.store.messages_in_flight(MAX_QUEUE_SCANNED)
        if in_flight is None:
            return []
        rescued = []
        for job_id in overdue:
            if job_id.encode() in in_flight or not self.store.claim_queued(job_id, now):
                continue
            job = self.store.load(job_id)
            if job is None or job.status != JobStatus.QUEUED:
                self.store.forget_queued(job_id)  # expired, or started meanwhile
                continue
            log.warning("job %s lost its queue message (a worker died taking it); requeued", job_id)
            self.send(job_id)
            rescued.append(job_id)
        return rescued
