"""Find jobs whose queue message was lost.

Celery's Redis transport takes a message off the queue (BRPOP) and only then records it as
unacknowledged; a worker killed between the two loses that message, and its job would wait
forever. So does a worker cut off from Redis while it waits in BRPOP: Redis still sees its
connection and hands it the next message, which never arrives. The job record is the truth: a
job still not started three heartbeats after it was queued, whose id is in neither the queue nor
any worker's unacknowledged messages, is sent again. A false alarm (a live worker between its
BRPOP and recording the message, a window of microseconds) only sends a duplicate, and running a
job twice is harmless: the protocol's transitions never overwrite an ended job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from jobs.protocol import WorkerProtocol

log = logging.getLogger(__name__)

# Past this queue length a lost message is not looked for: reading every message on every
# heartbeat would cost more than it saves, and the queue is busy being worked through anyway.
MAX_QUEUE_SCANNED = 1000
BATCH = 100


@dataclass
class Rescuer:
    protocol: WorkerProtocol
    after_s: float

    def sweep(self, now: float) -> list[str]:
        """The jobs to requeue because they lost their message (each claimed once)."""
        overdue = self.protocol.queued_before(now - self.after_s, BATCH)
        if not overdue:
            return []
        in_flight = self.protocol.messages_in_flight(MAX_QUEUE_SCANNED)
        if in_flight is None:
            return []
        rescued = []
        for job_id in overdue:
            if job_id.encode() in in_flight or not self.protocol.claim_queued(job_id, now):
                continue
            if not self.protocol.still_queued(job_id):
                continue
            log.warning("job %s lost its queue message (a worker died taking it); requeued", job_id)
            rescued.append(job_id)
        return rescued
