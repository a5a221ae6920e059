"""No upload can take a worker down: its memory is bounded by the output and by its budget.

The worker's RSS is sampled with psutil while hostile images run through the real system:
images elongated enough to have allocated ~26 GB before (item 1 of issue 8), and 32
decompression-bomb PNGs at once against the worker's budget of decoded pixels (item 2).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil
import pytest
from PIL import Image

from stack.system import LocalSystem
from tests.conftest import encode, finished_job, photo, start_system

BUDGET_PIXELS = 100_000_000  # the default KENNEL_WORKER_MAX_PIXELS_IN_FLIGHT
BYTES_PER_PIXEL = 4.5  # the documented worst case of a decoded pixel (worker/settings.py)
BOMB_SIDE = 7071  # 49.99 MP, just under the 50 MP limit


class PeakRss:
    """Samples a process's RSS every few milliseconds until stopped; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)


@pytest.fixture(scope="module")
def lenient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    """A kennel whose API lets any elongation through, so the worker meets it."""
    running = start_system(
        tmp_path_factory.mktemp("memory"),
        KENNEL_MAX_ASPECT_RATIO="1000000",
        KENNEL_WORKER_MAX_PIXELS_IN_FLIGHT=str(BUDGET_PIXELS),
    )
    yield running
    running.stop()


def _submit_all(
    system: LocalSystem, uploads: list[bytes], timeout_s: float
) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=system.api_url, timeout=120) as client:
            submitted = await asyncio.gather(
                *(client.post("/jobs", files={"image": data}) for data in uploads)
            )
            assert [r.status_code for r in submitted] == [202] * len(uploads), submitted[0].text
            ids = [r.json()["id"] for r in submitted]
            return list(await asyncio.gather(*(finished_job(client, i, timeout_s) for i in ids)))

    return asyncio.run(run())


def _warm(system: LocalSystem) -> int:
    """Run a batch of ordinary photos so the model's arenas have grown; return the RSS after."""
    jobs = _submit_all(system, [photo("grad_dog_cat.jfif").data] * 16, 120)
    assert all(job["status"] == "succeeded" for job in jobs)
    time.sleep(0.5)
    return int(psutil.Process(system.workers[0].pid).memory_info().rss)


@pytest.mark.parametrize("size", [(1, 100_000), (100_000, 1), (1, 5000)], ids=str)
def test_elongated_images_end_quickly_in_a_small_worker(
    lenient: LocalSystem, size: tuple[int, int]
) -> None:
    baseline = _warm(lenient)
    data = encode(Image.new("RGB", size, (120, 90, 60)), "PNG")
    started = time.monotonic()
    with PeakRss(lenient.workers[0].pid) as rss:
        [job] = _submit_all(lenient, [data], 60)
    seconds = time.monotonic() - started
    grown = rss.peak - baseline
    print(
        f"\n{size} ({len(data)} B): {job['status']} in {seconds:.2f} s, peak +{grown / 1e6:.0f} MB"
    )
    assert job["status"] == "succeeded"
    assert lenient.workers[0].alive()
    assert grown < 100 * 1024 * 1024  # it was ~26 GB (an OOM kill) for 1x100000


def bomb() -> bytes:
    return encode(Image.new("1", (BOMB_SIDE, BOMB_SIDE), 1), "PNG", optimize=True)


def test_32_pixel_bombs_at_once_stay_within_the_budget(lenient: LocalSystem) -> None:
    """Issue 8's 16 bombs took a worker from 0.35 GB to 4.3 GB. With 32 at once, the worker
    decodes at most the budget's worth at a time, and every job succeeds."""
    data = bomb()
    assert len(data) < 64 * 1024
    baseline = _warm(lenient)
    started = time.monotonic()
    with PeakRss(lenient.workers[0].pid) as rss:
        jobs = _submit_all(lenient, [data] * 32, 300)
    seconds = time.monotonic() - started
    grown = rss.peak - baseline
    bound = BUDGET_PIXELS * BYTES_PER_PIXEL
    print(
        f"\n32 x {BOMB_SIDE}x{BOMB_SIDE} 1-bit PNG ({len(data)} B): {seconds:.1f} s, "
        f"worker RSS {baseline / 1e6:.0f} MB -> peak {rss.peak / 1e6:.0f} MB "
        f"(+{grown / 1e6:.0f} MB; bound +{bound / 1e6:.0f} MB)"
    )
    assert [job["status"] for job in jobs] == ["succeeded"] * 32
    assert grown < bound
