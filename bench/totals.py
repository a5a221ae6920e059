"""Workers' running totals per model, from Prometheus or, without it, from each worker's /metrics.

The benchmark reads them before and after a load run; the difference gives the mean batch size
(images / batches) and the failed jobs of that run.
"""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.parser import text_string_to_metric_families

from stack.prometheus import LocalPrometheus


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


class TotalsSource(Protocol):
    name: str

    def totals(self, model: str) -> Totals: ...


class PrometheusTotals:
    name = "Prometheus"

    def __init__(self, prometheus: LocalPrometheus) -> None:
        self.prometheus = prometheus

    def totals(self, model: str) -> Totals:
        def total(metric: str, extra: str = "") -> float:
            value = self.prometheus.scalar(f'sum({metric}{{model="{model}"{extra}}})')
            return value or 0.0

        return Totals(
            images=total("kennel_images_inferred_total"),
            batches=total("kennel_batches_total"),
            finished=total("kennel_jobs_finished_total"),
            failed=total("kennel_jobs_finished_total", ', status="failed"'),
        )


class WorkerScrapeTotals:
    name = "the workers' /metrics (no Prometheus found)"

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


def settled(
    source: TotalsSource, model: str, quiet_s: float = 2.5, timeout_s: float = 90
) -> Totals:
    """The totals once they stop moving: every job in flight has ended and been scraped."""
    deadline = time.monotonic() + timeout_s
    last = source.totals(model)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = source.totals(model)
        if now == last:
            return now
        last = now
    return last
