"""One round trip ends a batch: the jobs that end together are finished together.

The jobs of a batch end at the same moment, and may belong to several queue messages. Each
message's thread hands its jobs' endings to `Finisher.submit` as their results arrive; one
thread takes every ending waiting at that moment and ends them all with
`WorkerProtocol.finish_many` (one pipelined write of every result and one wake-up), then
answers each with its own job. A message is acknowledged only after its jobs' ends are stored.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass

from jobs.contract import Job
from jobs.protocol import Ending, WorkerProtocol

MAX_AT_ONCE = 64


@dataclass(frozen=True)
class _Pending:
    ending: Ending
    future: Future[Job | None]


class Finisher:
    def __init__(self, protocol: WorkerProtocol) -> None:
        self.protocol = protocol
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="finisher", daemon=True)
        self._thread.start()

    def submit(self, ending: Ending) -> Future[Job | None]:
        """Store how the job ended: the job, or None when it had already ended (a late
        duplicate)."""
        future: Future[Job | None] = Future()
        self._queue.put(_Pending(ending, future))
        return future

    def finish(self, ending: Ending) -> Job | None:
        return self.submit(ending).result()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_AT_ONCE:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                ended = self.protocol.finish_many([p.ending for p in batch])
            except Exception as exc:  # each message's thread sees the error (it is requeued)
                for pending in batch:
                    pending.future.set_exception(exc)
                continue
            for pending, job in zip(batch, ended, strict=True):
                pending.future.set_result(job)
