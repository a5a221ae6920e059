"""`Prefer: wait=S` (RFC 7240) as POST /jobs reads it."""

from __future__ import annotations

import pytest

from api.prefer import applied, wait_preference


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("wait=10", 10.0),
        ("respond-async, wait=5", 5.0),
        ("WAIT = 7", 7.0),
        ("wait=3; foo=bar", 3.0),
        ("wait=600", 60.0),  # capped
        ("wait=0", 0.0),
    ],
)
def test_the_wait_asked_for_is_read(header: str, seconds: float) -> None:
    assert wait_preference(header) == seconds


@pytest.mark.parametrize("header", [None, "", "respond-async", "wait=", "wait=-1", "wait=1.5x"])
def test_no_or_malformed_wait_is_ignored(header: str | None) -> None:
    assert wait_preference(header) is None


def test_the_applied_preference_is_echoed() -> None:
    assert applied(30.0) == {"Preference-Applied": "wait=30"}
