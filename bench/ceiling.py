"""The ceiling: how many images/s this machine classifies with no queue, no Redis and no HTTP.

Preprocessing runs on a thread per core (as the worker's threads do) while ONNX Runtime runs
batches on all cores (as the worker's batcher does), from the same image bytes the load test
sends. The worker's batches are anything from 1 to its maximum, and a bigger batch is not
always faster per image on a CPU, so the ceiling is the best of several batch sizes.
"""

from __future__ import annotations

import itertools
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from jobs.images import ImageLimits
from jobs.settings import QueueSettings
from worker.classifier import OnnxClassifier
from worker.modeldir import ModelDir
from worker.preprocess import preprocess, stack


@dataclass(frozen=True)
class Ceiling:
    images_per_s: float
    batch_size: int
    cpu_ms_per_image: float  # this process's CPU time (all threads) per image classified


def best(model: ModelDir, images: list[bytes], seconds: float, batch_sizes: list[int]) -> Ceiling:
    """The fastest of `batch_sizes`, each measured for `seconds`."""
    rates = [measure(model, images, seconds, size) for size in batch_sizes]
    return max(rates, key=lambda c: c.images_per_s)


def measure(model: ModelDir, images: list[bytes], seconds: float, batch_size: int) -> Ceiling:
    """Classify `images` round and round for about `seconds` at `batch_size`.

    The next batch is preprocessed while the current one runs, as the worker's threads keep
    preprocessing while its batcher runs the model.
    """
    classifier = OnnxClassifier.load(model)
    limits = ImageLimits.from_settings(QueueSettings.model_validate({}))
    stream = itertools.cycle(images)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:

        def prepare() -> list[Future[np.ndarray]]:
            chunk = itertools.islice(stream, batch_size)
            return [pool.submit(preprocess, data, model.preprocess, limits) for data in chunk]

        def run(batch: list[Future[np.ndarray]]) -> int:
            classifier.predict_batch(stack([f.result() for f in batch]))
            return len(batch)

        run(prepare())  # warm-up: the first session.run allocates its buffers
        cpu, started, upcoming = time.process_time(), time.perf_counter(), prepare()
        done = 0
        while (elapsed := time.perf_counter() - started) < seconds or done == 0:
            current, upcoming = upcoming, prepare()
            done += run(current)
        cpu = time.process_time() - cpu
    return Ceiling(done / elapsed, batch_size, cpu * 1000 / done)
