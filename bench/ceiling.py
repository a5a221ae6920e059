"""The ceiling: how many images/s this machine classifies with no queue, no Redis and no HTTP.

Preprocessing runs on a thread per core (as the worker's threads do) while ONNX Runtime runs
batches of `batch_size` on all cores (as the worker's batcher does), from the same image bytes
the load test sends. The system cannot beat this number; the ratio says what the rest costs.
"""

from __future__ import annotations

import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor

from jobs.images import ImageLimits
from jobs.settings import QueueSettings
from worker.classifier import OnnxClassifier
from worker.modeldir import ModelDir
from worker.preprocess import preprocess, stack


def images_per_second(
    model: ModelDir, images: list[bytes], seconds: float, batch_size: int = 16
) -> float:
    """Classify `images` round and round for about `seconds`; return images per second."""
    classifier = OnnxClassifier.load(model)
    limits = ImageLimits.from_settings(QueueSettings())
    config = model.preprocess
    stream = itertools.cycle(images)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:

        def batch() -> int:
            chunk = list(itertools.islice(stream, batch_size))
            arrays = list(pool.map(lambda data: preprocess(data, config, limits), chunk))
            classifier.predict_batch(stack(arrays))
            return len(arrays)

        batch()  # warm-up: first session.run allocates its buffers
        done, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds or done == 0:
            done += batch()
    return done / elapsed
