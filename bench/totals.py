"""Workers' running totals per model, read from each worker's /metrics.

The benchmark reads them before and after a measurement; the difference gives the mean batch
size (images / batches) and the failed jobs of that measurement.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Totals:
    images: float
    batches: float
    finished: float
    failed: float

    def __sub__(self, other: Totals) -> Totals:
        return Totals(
            self.images - other.images,
            self.batches - other.batches,
            self.finished - other.finished,
            self.failed - other.failed,
        )

    @property
    def mean_batch(self) -> float | None:
        return self.images / self.batches if self.batches else None


class WorkerScrapeTotals:
    def __init__(self, worker_urls: list[str]) -> None:
        self.worker_urls = worker_urls

    def totals(self, model: str) -> Totals:
        sums = {"images": 0.0, "batches": 0.0, "finished": 0.0, "failed": 0.0}
        for url in self.worker_urls:
            with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
                text = response.read().decode()
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    if s.labels.get("model") != model:
                        continue
                    if s.name == "kennel_images_inferred_total":
                        sums["images"] += s.value
                    elif s.name == "kennel_batches_total":
                        sums["batches"] += s.value
                    elif s.name == "kennel_jobs_finished_total":
                        sums["finished"] += s.value
                        sums["failed"] += s.value if s.labels["status"] == "failed" else 0
        return Totals(**sums)
