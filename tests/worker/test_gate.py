"""SuspectGate: ordinary jobs run together; a suspect waits for them and then runs alone."""

from __future__ import annotations

import threading
import time

from worker.gate import SuspectGate


def test_a_suspect_waits_for_running_jobs_and_blocks_new_ones() -> None:
    gate = SuspectGate()
    events: list[str] = []
    first_inside = threading.Event()
    release_first = threading.Event()

    def ordinary(name: str, hold: threading.Event | None = None) -> None:
        with gate.enter(suspect=False):
            events.append(f"{name} in")
            if hold is not None:
                first_inside.set()
                hold.wait(5)
            events.append(f"{name} out")

    def suspect() -> None:
        with gate.enter(suspect=True):
            events.append("suspect in")
            time.sleep(0.1)
            events.append("suspect out")

    threads = [threading.Thread(target=ordinary, args=("a", release_first))]
    threads[0].start()
    first_inside.wait(5)
    threads.append(threading.Thread(target=suspect))
    threads[1].start()
    time.sleep(0.1)  # the suspect now waits for "a"
    threads.append(threading.Thread(target=ordinary, args=("b",)))
    threads[2].start()
    time.sleep(0.1)  # and "b" waits behind the suspect
    assert events == ["a in"]
    release_first.set()
    for thread in threads:
        thread.join(5)
    assert events == ["a in", "a out", "suspect in", "suspect out", "b in", "b out"]


def test_ordinary_jobs_run_together() -> None:
    gate = SuspectGate()
    inside = threading.Barrier(3, timeout=5)

    def ordinary() -> None:
        with gate.enter(suspect=False):
            inside.wait()  # breaks (raises) unless all three are inside at once

    threads = [threading.Thread(target=ordinary) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert not inside.broken
