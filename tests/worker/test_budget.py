"""The pixel budget: never over capacity, first come first served, an oversized image alone."""

from __future__ import annotations

import threading
import time

import pytest

from worker.budget import JobBudget, PixelBudget


def test_holders_never_exceed_the_capacity() -> None:
    budget = PixelBudget(100)
    peak = 0
    lock = threading.Lock()

    def job(pixels: int) -> None:
        nonlocal peak
        with budget.reserve(pixels):
            with lock:
                peak = max(peak, budget.in_use)
            time.sleep(0.01)

    threads = [threading.Thread(target=job, args=(p,)) for p in [30, 60, 45, 10, 100, 70] * 5]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert 0 < peak <= 100
    assert budget.in_use == 0


def test_an_image_larger_than_the_budget_runs_alone() -> None:
    budget = PixelBudget(100)
    with budget.reserve(500) as held:
        assert held == 100 and budget.in_use == 100
        started = threading.Event()

        def small() -> None:
            with budget.reserve(1):
                started.set()

        thread = threading.Thread(target=small)
        thread.start()
        assert not started.wait(0.2)  # waits while the big one holds everything
    assert started.wait(5)
    thread.join()


def test_waiters_are_served_in_order() -> None:
    """A big job waiting is not overtaken by small ones that would fit (no starvation)."""
    budget = PixelBudget(100)
    order: list[str] = []
    first = budget.reserve(60)
    first.__enter__()

    def job(name: str, pixels: int) -> None:
        with budget.reserve(pixels):
            order.append(name)

    big = threading.Thread(target=job, args=("big", 80))
    big.start()
    time.sleep(0.1)  # the big job is first in line
    small = threading.Thread(target=job, args=("small", 10))
    small.start()
    time.sleep(0.1)
    assert order == []  # 60 + 10 would fit, but the small one is behind the big one
    first.__exit__(None, None, None)
    big.join(5)
    small.join(5)
    assert order == ["big", "small"]


def test_an_error_inside_gives_the_budget_back() -> None:
    budget = PixelBudget(10)
    with pytest.raises(RuntimeError), budget.reserve(10):
        raise RuntimeError("decode failed")
    assert budget.in_use == 0


def test_a_budget_needs_room() -> None:
    with pytest.raises(ValueError):
        PixelBudget(0)


def test_a_message_of_more_jobs_than_the_budget_waits_for_an_idle_worker() -> None:
    jobs = JobBudget(4)
    with jobs.reserve(3):
        entered = threading.Event()

        def big_message() -> None:
            with jobs.reserve(10):  # more than the whole budget: all of it, alone
                entered.set()

        thread = threading.Thread(target=big_message)
        thread.start()
        assert not entered.wait(0.1)
    assert entered.wait(5)
    thread.join(timeout=5)
    assert jobs.in_use == 0
