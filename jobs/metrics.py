"""What every submitter counts: jobs queued and jobs refused, by who submitted them.

Counted in `JobClient.submit`, the one place the API and the bot submit through, so both count
the same way. Label values are bounded: `source` is api or bot, `code` an `ErrorCode`.
"""

from prometheus_client import Counter

JOBS_SUBMITTED = Counter(
    "kennel_jobs_submitted_total", "Jobs queued, by who submitted them.", ["source"]
)
JOBS_REJECTED = Counter(
    "kennel_jobs_rejected_total",
    "Submissions refused before queueing (bad image, unknown model, queue down), by error code.",
    ["source", "code"],
)
