"""What every submitter counts: jobs queued, refused, replayed and canceled, by who sent them.

Counted in `JobClient.submit`, the one place the API and the bot submit through, so both count
the same way. Label values are bounded: `source` is api or bot, `code` an `ErrorCode`.
"""

import logging

from prometheus_client import Counter, start_http_server

log = logging.getLogger(__name__)

JOBS_SUBMITTED = Counter(
    "kennel_jobs_submitted_total", "Jobs queued, by who submitted them.", ["source"]
)
JOBS_REJECTED = Counter(
    "kennel_jobs_rejected_total",
    "Submissions refused before queueing (bad image, unknown model, queue down or full, "
    "deadline unreachable, Idempotency-Key reused), by error code.",
    ["source", "code"],
)
JOBS_REPLAYED = Counter(
    "kennel_jobs_replayed_total",
    "Submissions answered with the job their Idempotency-Key had made (nothing stored).",
    ["source"],
)

JOBS_CANCELED = Counter(
    "kennel_jobs_canceled_total",
    "Jobs canceled by their client, by the state they were canceled in: `queued` (never run) "
    "or `running` (its result is dropped).",
    ["source", "was"],
)
for _was in ("queued", "running"):  # at 0 from the start, so a rate reads 0, not nothing
    JOBS_CANCELED.labels("api", _was)


def serve(port: int, host: str, setting: str) -> bool:
    """Expose this process's metrics over HTTP; port 0 (named by `setting`) leaves them unserved."""
    if port == 0:
        log.info("metrics not served (%s=0)", setting)
        return False
    start_http_server(port, addr=host)
    log.info("metrics on http://%s:%d/metrics", host, port)
    return True
