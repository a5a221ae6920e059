"""The dynamic batcher's logic, with small fake classifiers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import numpy as np
import pytest

from worker.batcher import DynamicBatcher
from worker.errors import InferenceFailed


class EchoClassifier:
    """Returns each input's first pixel as its row, and remembers the batch sizes it saw."""

    name = "echo"
    labels: ClassVar[list[str]] = ["only"]

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batch_sizes: list[int] = []
        self.order: list[np.ndarray] = []  # each batch's first pixels, in the order run
        self.delay_s = delay_s

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        self.batch_sizes.append(len(batch))
        self.order.append(batch[:, 0, 0, 0].copy())
        time.sleep(self.delay_s)
        return batch[:, :1, 0, 0].copy()


class ClassifierThatRaises(EchoClassifier):
    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        super().predict_batch(batch)
        raise RuntimeError("onnxruntime fell over")


class ClassifierThatDropsARow(EchoClassifier):
    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        return super().predict_batch(batch)[:-1]


def marked(value: float) -> np.ndarray:
    return np.full((3, 2, 2), value, dtype=np.float32)


@pytest.fixture
def started() -> Iterator[list[DynamicBatcher]]:
    batchers: list[DynamicBatcher] = []
    yield batchers
    for batcher in batchers:
        batcher.stop()


def start(
    batchers: list[DynamicBatcher], classifier: EchoClassifier, size: int, wait_s: float
) -> DynamicBatcher:
    batcher = DynamicBatcher(classifier, max_batch_size=size, max_wait_s=wait_s)
    batcher.start()
    batchers.append(batcher)
    return batcher


def test_images_that_arrive_together_run_as_one_batch(started: list[DynamicBatcher]) -> None:
    classifier = EchoClassifier()
    batcher = start(started, classifier, size=8, wait_s=0.5)
    for _ in range(5):
        batcher.expect()  # being preprocessed: the batch waits for them
    futures = [batcher.submit(marked(i), expected=True) for i in range(5)]
    outcomes = [f.result(timeout=5) for f in futures]
    assert classifier.batch_sizes == [5]
    assert [float(o.probabilities[0]) for o in outcomes] == [0, 1, 2, 3, 4]
    assert {o.batch_size for o in outcomes} == {5}


def test_a_batch_never_exceeds_the_max_size(started: list[DynamicBatcher]) -> None:
    classifier = EchoClassifier(delay_s=0.05)
    batcher = start(started, classifier, size=4, wait_s=0.2)
    futures = [batcher.submit(marked(i)) for i in range(10)]
    rows = [float(f.result(timeout=5).probabilities[0]) for f in futures]
    assert rows == list(range(10))
    assert max(classifier.batch_sizes) == 4
    assert sum(classifier.batch_sizes) == 10


def test_a_lone_image_waits_at_most_max_wait(started: list[DynamicBatcher]) -> None:
    classifier = EchoClassifier()
    batcher = start(started, classifier, size=64, wait_s=0.05)
    begun = time.perf_counter()
    batcher.submit(marked(7)).result(timeout=5)
    assert time.perf_counter() - begun < 2  # a generous bound: the point is it does not hang
    assert classifier.batch_sizes == [1]


def test_a_batch_waits_for_an_announced_image_and_not_for_nothing(
    started: list[DynamicBatcher],
) -> None:
    classifier = EchoClassifier()
    batcher = start(started, classifier, size=8, wait_s=1.0)
    batcher.expect()
    batcher.expect()
    first = batcher.submit(marked(1), expected=True)
    time.sleep(0.2)  # the second is still being preprocessed: the batch waits for it
    second = batcher.submit(marked(2), expected=True)
    assert (first.result(timeout=5).batch_size, second.result(timeout=5).batch_size) == (2, 2)
    begun = time.perf_counter()
    batcher.expect()
    batcher.submit(marked(3), expected=True).result(timeout=5)  # nothing else on its way
    assert time.perf_counter() - begun < 0.5  # not the 1 s max wait
    assert classifier.batch_sizes == [2, 1]


def test_outputs_go_back_to_their_own_callers_across_threads(started: list[DynamicBatcher]) -> None:
    batcher = start(started, EchoClassifier(), size=16, wait_s=0.01)
    results: dict[int, float] = {}

    def call(i: int) -> None:
        results[i] = float(batcher.submit(marked(i)).result(timeout=5).probabilities[0])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: float(i) for i in range(40)}


def test_a_batch_that_raises_fails_its_callers_and_the_batcher_goes_on(
    started: list[DynamicBatcher],
) -> None:
    failing = start(started, ClassifierThatRaises(), size=8, wait_s=0.1)
    futures = [failing.submit(marked(i)) for i in range(3)]
    for future in futures:
        with pytest.raises(InferenceFailed, match="fell over"):
            future.result(timeout=5)
    assert failing.submit(marked(1)).exception(timeout=5) is not None  # still serving


def test_rows_that_do_not_match_inputs_fail_the_batch(started: list[DynamicBatcher]) -> None:
    batcher = start(started, ClassifierThatDropsARow(), size=8, wait_s=0.1)
    futures = [batcher.submit(marked(i)) for i in range(3)]
    for future in futures:
        with pytest.raises(InferenceFailed, match="2 rows for a batch of 3"):
            future.result(timeout=5)


def test_max_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DynamicBatcher(EchoClassifier(), max_batch_size=0, max_wait_s=0)


def test_interactive_images_overtake_batch_images_that_have_not_waited_their_delay(
    started: list[DynamicBatcher],
) -> None:
    classifier = EchoClassifier(delay_s=0.05)
    batcher = start(started, classifier, size=1, wait_s=0)
    first = batcher.submit(marked(0))  # occupies the batcher while the others queue
    waiting = [batcher.submit(marked(1), delay_s=60), batcher.submit(marked(2), delay_s=60)]
    time.sleep(0.01)
    overtaking = [batcher.submit(marked(3)), batcher.submit(marked(4))]
    for future in [first, *overtaking, *waiting]:
        future.result(timeout=5)
    assert classifier.batch_sizes == [1] * 5
    ran = [float(v) for v in np.concatenate([np.atleast_1d(b) for b in classifier.order])]
    assert ran == [0, 3, 4, 1, 2]


def test_a_batch_image_that_waited_its_delay_goes_before_newer_interactive_ones(
    started: list[DynamicBatcher],
) -> None:
    classifier = EchoClassifier(delay_s=0.05)
    batcher = start(started, classifier, size=1, wait_s=0)
    first = batcher.submit(marked(0))
    old = batcher.submit(marked(1), delay_s=0.02)
    time.sleep(0.04)  # the batch image is due now
    newer = batcher.submit(marked(2))
    for future in (first, old, newer):
        future.result(timeout=5)
    ran = [float(v) for v in np.concatenate([np.atleast_1d(b) for b in classifier.order])]
    assert ran == [0, 1, 2]
