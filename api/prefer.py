"""The `Prefer: wait=S` request header (RFC 7240): how long a client will wait for an answer."""

from __future__ import annotations

from jobs.client import MAX_WAIT_S


def wait_preference(header: str | None) -> float | None:
    """Seconds asked for by `Prefer: wait=S`, at most MAX_WAIT_S; None when not asked.

    Other preferences in the header are ignored, as are malformed ones (RFC 7240 section 2).
    """
    if not header:
        return None
    for preference in header.split(","):
        name, _, value = preference.split(";")[0].partition("=")
        if name.strip().lower() == "wait" and value.strip().isdigit():
            return min(float(value.strip()), MAX_WAIT_S)
    return None


def applied(seconds: float) -> dict[str, str]:
    return {"Preference-Applied": f"wait={seconds:g}"}
