"""Where kennel keeps things in Redis. Every key the services share is named here."""

PREFIX = "kennel"
MODELS = f"{PREFIX}:models"
WORKER_PATTERN = f"{PREFIX}:worker:*"
# Jobs submitted and not yet started, scored by submission time (see worker/rescue.py).
QUEUED = f"{PREFIX}:queued"


def job(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def image(job_id: str) -> str:
    return f"{PREFIX}:image:{job_id}"


def done(job_id: str) -> str:
    """A list a worker pushes to when the job ends, so waiters can BLPOP instead of polling."""
    return f"{PREFIX}:done:{job_id}"


def worker(name: str) -> str:
    return f"{PREFIX}:worker:{name}"
