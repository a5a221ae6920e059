"""A worker's heartbeat: it announces itself, and looks after the jobs of workers that died.

Each beat (`heartbeat_s`) announces this worker and its models (the announcement expires after
2.5 beats), requeues the running jobs of workers whose announcement expired (`reap`), and
requeues queued jobs whose message was lost (`Rescuer`). Between beats it checks, cheaply, that
its announcement is still there, so it announces again as soon as Redis is back after a restart.
Every tick also ends the queued jobs past their deadline (`expire`), so they end on time even
when every worker is busy, and promotes batch messages that waited `promote_after_s` to the
front of the interactive queue (so batch work waits behind interactive work for that long at
most, plus a tick).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

from jobs.contract import ModelInfo
from jobs.protocol import WorkerProtocol
from worker import metrics
from worker.rescue import Rescuer

log = logging.getLogger(__name__)

# How often the heartbeat thread looks (between beats: is the announcement still there?).
TICK_S = 0.5
# An announcement lives this many beats: a worker that dies is seen dead 1.5 to 2.5 beats later,
# and a survivor's next tick requeues its jobs, so they restart within three beats.
ANNOUNCEMENT_LIFETIME = 2.5


class Heartbeat:
    def __init__(
        self,
        protocol: WorkerProtocol,
        name: str,
        models: Sequence[ModelInfo],
        every_s: float,
        rescuer: Rescuer,
        promote_after_s: float,
    ) -> None:
        self.protocol = protocol
        self.name = name
        self.models = list(models)
        self.every_s = every_s
        self.rescuer = rescuer
        self.promote_after_s = promote_after_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._last_beat = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        try:
            self.protocol.retire(self.name)
        except Exception:
            log.warning("could not retire worker %s from Redis", self.name)

    def _run(self) -> None:
        while True:
            try:
                if time.monotonic() - self._last_beat >= self.every_s:
                    self._beat()
                elif not self.protocol.announced(self.name):
                    log.info("announcement gone (Redis restarted?); announcing again")
                    self._beat()
                self._reap()
                self._expire()
                self._promote()
            except Exception as exc:
                self._last_beat = 0.0  # beat as soon as Redis answers again
                log.warning("heartbeat to Redis failed: %s", exc)
            if self._stopping.wait(min(TICK_S, self.every_s)):
                return

    def _beat(self) -> None:
        self.protocol.announce(self.name, self.models, self.every_s * ANNOUNCEMENT_LIFETIME)
        self._last_beat = time.monotonic()
        self.protocol.requeue(self.rescuer.sweep(time.time()), suspect=False)

    def _expire(self) -> None:
        """Queued jobs past their deadline end now, even when no worker is free to take them."""
        for job in self.protocol.expire():
            log.info("job %s passed its deadline while queued; expired", job.id)
            metrics.job_expired(job, "sweep")

    def _promote(self) -> None:
        promoted = self.protocol.promote(time.time() - self.promote_after_s)
        if promoted:
            log.info(
                "%d batch message(s) waited %.0f s; moved ahead", promoted, self.promote_after_s
            )

    def _reap(self) -> None:
        reaped, held = self.protocol.reap(time.time())
        for job_id in reaped:
            log.warning("job %s was running on a worker that died; requeued", job_id)
        if held:
            log.warning("%d job(s) a dead worker held, not started, sent again", len(held))
        self.protocol.requeue(reaped, suspect=True)  # one may have killed it: each runs alone
        self.protocol.requeue(held, suspect=False)  # never started: not suspects
