"""A per-worker budget of decoded pixels in flight, so concurrent decodes cannot exhaust memory.

Each job reserves its image's pixel count (from the header, before decoding) and gives it back
when its preprocessing ends. A job that does not fit waits; waiters are served first come, first
served, so a large image is not starved by small ones. An image larger than the whole budget
runs alone: it waits until nothing else holds budget.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class PixelBudget:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a pixel budget needs a capacity of at least 1")
        self.capacity = capacity
        self._in_use = 0
        self._waiting: deque[int] = deque()
        self._tickets = itertools.count()
        self._changed = threading.Condition()

    @property
    def in_use(self) -> int:
        with self._changed:
            return self._in_use

    @contextmanager
    def reserve(self, pixels: int) -> Iterator[int]:
        """Hold `pixels` (at most the whole budget) for the duration of the block."""
        need = max(1, min(pixels, self.capacity))
        with self._changed:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
            self._changed.wait_for(lambda: self._may_start(ticket, need))
            self._waiting.popleft()
            self._in_use += need
            self._changed.notify_all()  # the next in line may fit too
        try:
            yield need
        finally:
            with self._changed:
                self._in_use -= need
                self._changed.notify_all()

    def _may_start(self, ticket: int, need: int) -> bool:
        return self._waiting[0] == ticket and self._in_use + need <= self.capacity


class JobBudget(PixelBudget):
    """The same first-come, first-served budget, counted in jobs: a worker starts at most
    `capacity` jobs at once (and so holds at most that many uploads), however its queue
    messages group them; a message with more jobs than that waits until the worker is idle."""
