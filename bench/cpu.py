"""CPU time per process (psutil), read before and after a measurement."""

from __future__ import annotations

from collections.abc import Mapping

import psutil


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and of its children still running."""
    try:
        process = psutil.Process(pid)
        family = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in family:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def snapshot(pids: Mapping[str, list[int]]) -> dict[str, float]:
    """CPU seconds by role; a role's processes (say, every worker) are added up."""
    return {role: sum(cpu_seconds(pid) for pid in group) for role, group in pids.items()}


def per_request_ms(
    before: Mapping[str, float], after: Mapping[str, float], requests: int
) -> dict[str, float]:
    """Each process's CPU milliseconds per answered request between two snapshots."""
    return {role: (after[role] - before[role]) * 1000 / max(requests, 1) for role in before}
