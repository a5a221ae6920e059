"""Suspect jobs run alone, so a job that crashes its worker takes no other job down with it.

A job is a suspect when it comes back because a worker died while holding it (the reaper's
requeue, or kombu's redelivery of an unacknowledged message). Before it starts, and so before
its delivery is counted, it waits until this worker runs nothing else, and nothing else starts
until it ends. If it kills the worker again, it dies alone and is the only job charged an
attempt; the jobs that merely shared its first worker succeed on their next, lone, attempt.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class SuspectGate:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._running = 0
        self._alone = False
        self._waiting_alone = 0

    @contextlib.contextmanager
    def enter(self, suspect: bool) -> Iterator[None]:
        with self._alone_run() if suspect else self._shared_run():
            yield

    @contextlib.contextmanager
    def _shared_run(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._alone and not self._waiting_alone)
            self._running += 1
        try:
            yield
        finally:
            with self._changed:
                self._running -= 1
                self._changed.notify_all()

    @contextlib.contextmanager
    def _alone_run(self) -> Iterator[None]:
        with self._changed:
            self._waiting_alone += 1
            self._changed.wait_for(lambda: not self._alone and not self._running)
            self._waiting_alone -= 1
            self._alone = True
        try:
            yield
        finally:
            with self._changed:
                self._alone = False
                self._changed.notify_all()
