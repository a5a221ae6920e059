"""A dynamic batcher, like Triton's: jobs that arrive together run as one batch.

Callers `submit` one preprocessed image and get a Future. A single thread takes the first
waiting image, waits at most `max_wait_s` for more (up to `max_batch_size`), runs them as one
`predict_batch` and hands each caller its own row. Each caller's outcome is separate: a batch
that fails fails its callers, and nothing else.

It waits only for images on their way: a caller announces an image before preprocessing it
(`expect`) and the announcement ends when it submits it (or `withdraw`s it after a failure).
With none announced, the batch runs with what has arrived: a lone request does not pay
`max_wait_s` (measured in BENCHMARKS.md, 1 client).

Images are taken in order of arrival plus their `delay_s`: a batch-priority job's image is
submitted with a delay (KENNEL_BATCH_PROMOTE_AFTER_S), so interactive images that arrive while
it waits go first, and one that has waited that long goes before newer interactive images:
batch work yields to interactive work inside the worker too, and is never starved.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from worker.classifier import Classifier
from worker.errors import InferenceFailed
from worker.preprocess import stack

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchOutcome:
    probabilities: np.ndarray
    batch_size: int
    inference_s: float


@dataclass(frozen=True)
class _Pending:
    array: np.ndarray
    future: Future[BatchOutcome]
    enqueued: float


_STOP = object()
# What waits: (when it is due: arrival + delay, arrival order, the image or _STOP).
_Entry = tuple[float, int, _Pending | object]


class DynamicBatcher:
    def __init__(
        self,
        classifier: Classifier,
        max_batch_size: int,
        max_wait_s: float,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.classifier = classifier
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self._on_batch = on_batch
        self._queue: queue.PriorityQueue[_Entry] = queue.PriorityQueue()
        self._order = itertools.count()
        self._coming = 0  # images announced and not yet submitted
        self._coming_lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name=f"batcher-{classifier.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._put(_STOP, time.perf_counter())
        self._thread.join(timeout=10)

    def expect(self) -> None:
        """An image is on its way (being preprocessed): a batch may wait for it."""
        with self._coming_lock:
            self._coming += 1

    def withdraw(self) -> None:
        """An announced image will not come (its preprocessing failed)."""
        with self._coming_lock:
            self._coming -= 1

    def submit(
        self, array: np.ndarray, delay_s: float = 0.0, expected: bool = False
    ) -> Future[BatchOutcome]:
        """Queue one image (`expected`: announced by `expect`); it is taken after those due
        before `now + delay_s`."""
        future: Future[BatchOutcome] = Future()
        now = time.perf_counter()
        self._put(_Pending(array, future, now), now + delay_s)
        if expected:
            self.withdraw()
        return future

    def _put(self, item: _Pending | object, due: float) -> None:
        self._queue.put((due, next(self._order), item))

    def _get(self, timeout: float | None = None) -> _Pending | object:
        return self._queue.get(timeout=timeout)[2]

    def _run(self) -> None:
        while True:
            batch = self._collect()
            if batch is None:
                return
            self._execute(batch)

    def _collect(self) -> list[_Pending] | None:
        first = self._get()
        if first is _STOP:
            return None
        assert isinstance(first, _Pending)
        batch = [first]
        deadline = time.perf_counter() + self.max_wait_s
        while len(batch) < self.max_batch_size:
            # Nothing on its way: take what has arrived, do not wait for what will not come.
            remaining = deadline - time.perf_counter() if self._coming > 0 else 0
            try:
                item = self._get(timeout=remaining) if remaining > 0 else self._get(timeout=0)
            except queue.Empty:
                break
            if item is _STOP:
                self._put(_STOP, time.perf_counter())  # finish this batch, then stop
                break
            assert isinstance(item, _Pending)
            batch.append(item)
        return batch

    def _execute(self, batch: list[_Pending]) -> None:
        started = time.perf_counter()
        try:
            probabilities = self.classifier.predict_batch(stack([p.array for p in batch]))
            if probabilities.shape[0] != len(batch):
                raise InferenceFailed(
                    f"model {self.classifier.name} returned {probabilities.shape[0]} rows "
                    f"for a batch of {len(batch)}"
                )
        except Exception as exc:
            log.exception("batch of %d failed on model %s", len(batch), self.classifier.name)
            error = exc if isinstance(exc, InferenceFailed) else InferenceFailed(str(exc))
            for pending in batch:
                pending.future.set_exception(error)
            return
        elapsed = time.perf_counter() - started
        if self._on_batch is not None:
            self._on_batch(len(batch), elapsed)
        for pending, row in zip(batch, probabilities, strict=True):
            pending.future.set_result(BatchOutcome(row, len(batch), elapsed))
