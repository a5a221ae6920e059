"""The report's arithmetic: medians over rounds, shares of the ceiling, CPU per process role."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.ceiling import Ceiling
from bench.load import LOADGEN, LevelRun
from bench.loadgen import LoadResult
from bench.models import ModelFacts
from bench.report import percentile, summarise

FACTS = ModelFacts("m", Path("m"), 1_000_000, 1000, None, None)


def run(round_: int, requests: int, latencies: list[float], api_ms: float) -> LevelRun:
    load = LoadResult(8, requests, 0, "", 10.0, latencies)
    cpu = {"API": api_ms, "worker": 20.0, "Redis": 1.0, LOADGEN: 2.0}
    return LevelRun("kennel POST /predict", "m", 8, round_, load, cpu, mean_batch=4.0)


def test_medians_over_rounds_and_the_share_of_the_median_ceiling() -> None:
    ceilings = {"m": [Ceiling(100.0, 8, 20.0), Ceiling(50.0, 4, 30.0), Ceiling(80.0, 8, 21.0)]}
    runs = [run(1, 500, [10.0] * 99 + [900.0], 3.0), run(2, 900, [20.0] * 100, 5.0),
            run(3, 700, [30.0] * 100, 4.0)]  # fmt: skip
    summary = summarise([FACTS], ceilings, runs)
    (ceiling,) = summary.ceilings
    assert (ceiling.images_per_s, ceiling.batch_size, ceiling.cpu_ms) == (80.0, 8, 21.0)
    (row,) = summary.rows
    assert row.per_s == pytest.approx(70.0)  # median of 50, 90 and 70 per second
    assert row.ratio == pytest.approx(70.0 / 80.0)
    assert row.p50_ms == 20.0 and row.p99_ms == 20.0  # p99s 10, 20, 30: 900 is round 1 p100
    assert row.cpu_ms["API"] == 4.0 and row.served_cpu_ms == 25.0  # the load generator is apart
    assert (row.requests, row.errors, row.mean_batch) == (2100, 0, 4.0)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0 and percentile(values, 99) == 99.0
    assert percentile([5.0], 99) == 5.0
