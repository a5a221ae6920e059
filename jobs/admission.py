"""Admission: what a model's recent throughput says about its queue, and the refusals it decides.

Pure functions of a `protocol.QueueState` (the scripts read the queue and the per-second
counts of ended jobs; nothing here touches Redis): the throughput, a queued job's expected end
(`eta_s`), when a refused client should try again, whether a deadline can be met, and the
hashed form of an Idempotency-Key.

The throughput is measured, not configured: the finish step keeps, per model, an exponentially
weighted rate of ended jobs (time constant `THROUGHPUT_TAU_S`, 30 s; O(1) to update and to
read), counted since the first job ended after an idle spell; read, it is decayed to now and
divided by the weight its history has had so far (1 - e^(-elapsed/tau)), so a steady rate
reads right from the first seconds. Unknown after `THROUGHPUT_IDLE_S` with no job ended. It
reflects demand as well as capacity: after a quiet spell it reads low.
"""

from __future__ import annotations

import hashlib
import math

from jobs.errors import DeadlineUnreachable, QueueFull
from jobs.protocol import THROUGHPUT_TAU_S, Admitted, Idempotency, QueueState, idempotency_key
from jobs.settings import QueueSettings

# When nothing ended recently, a refused client is told to come back after this long.
DEFAULT_RETRY_AFTER_S = 10.0
MIN_SPAN_S = 1.0
MAX_IDEMPOTENCY_KEY_CHARS = 255


def throughput(state: QueueState) -> float | None:
    """Jobs of the model ended per second lately; None when none ended lately."""
    held = state.throughput
    if held is None or held.rate <= 0:
        return None
    decayed = held.rate * math.exp(-max(0.0, state.now - held.at) / THROUGHPUT_TAU_S)
    weight = 1 - math.exp(-max(MIN_SPAN_S, state.now - held.since) / THROUGHPUT_TAU_S)
    return decayed / weight


def eta_s(state: QueueState, position: int) -> float | None:
    """Seconds until the job at `position` (0: next) is expected to end; None if unknown."""
    rate = throughput(state)
    return None if rate is None else round((position + 1) / rate, 3)


def drain_s(state: QueueState, jobs: int) -> float:
    """Seconds until `jobs` more jobs of the model end (a default when unknown), at least 1."""
    rate = throughput(state)
    return DEFAULT_RETRY_AFTER_S if rate is None else max(1.0, jobs / rate)


def queue_full(admitted: Admitted, image_bytes: int, settings: QueueSettings) -> QueueFull:
    """The refusal for a submission the submit step found over a bound."""
    state = admitted.state
    assert state is not None
    if admitted.outcome == "full":
        over = state.waiting - settings.max_queued + 1
        return QueueFull(
            f"{state.waiting} jobs wait for this model (KENNEL_MAX_QUEUED="
            f"{settings.max_queued}); try again later.",
            retry_after_s=drain_s(state, over),
        )
    excess = state.image_bytes + image_bytes - settings.max_queued_bytes
    share = excess / state.image_bytes if state.image_bytes else 1.0
    return QueueFull(
        f"{state.image_bytes} image bytes are held in the queue (KENNEL_MAX_QUEUED_BYTES="
        f"{settings.max_queued_bytes}); try again later.",
        retry_after_s=drain_s(state, math.ceil(max(1, state.waiting) * min(1.0, share))),
    )


def check_deadline(deadline_s: float | None, state: QueueState) -> None:
    """Refuse a job whose deadline (by which it must START) is shorter than its expected wait
    to start: the jobs waiting ahead of it over the measured throughput. An unknown wait, or
    no job ahead, admits it."""
    if deadline_s is None:
        return
    rate = throughput(state)
    expected = None if rate is None else state.waiting / rate
    if expected is not None and deadline_s < expected:
        raise DeadlineUnreachable(
            f"The deadline ({deadline_s:g} s) is shorter than the expected wait to start "
            f"({expected:.1f} s for {state.waiting} jobs ahead); try again later.",
            retry_after_s=expected - deadline_s,
        )


def idempotency(key: str, owner: str | None, image: bytes, model: str, top_k: int) -> Idempotency:
    """The Redis key of an Idempotency-Key (scoped to its owner) and the fingerprint of the
    submission it names: the same key with another image, model or top_k is a reuse."""
    digest = hashlib.sha256(f"{owner or ''}\0{key}".encode()).hexdigest()
    content = hashlib.sha256(image)
    content.update(f"\0{model}\0{top_k}".encode())
    return Idempotency(idempotency_key(digest), content.hexdigest())
