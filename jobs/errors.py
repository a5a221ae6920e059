"""What can go wrong when a client submits or reads a job. Each error carries its client code."""

from jobs.contract import ErrorCode


class JobsError(Exception):
    """The root of every error a client sees; `api/errors.py` maps each code to an HTTP status."""

    code: ErrorCode

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s  # when to try again (HTTP Retry-After), if known


class ImageRejected(JobsError):
    """The upload is not something a worker should be given."""


class EmptyImage(ImageRejected):
    code = ErrorCode.EMPTY_FILE


class NotAnImage(ImageRejected):
    code = ErrorCode.NOT_AN_IMAGE


class FileTooLarge(ImageRejected):
    code = ErrorCode.FILE_TOO_LARGE


class TooManyPixels(ImageRejected):
    code = ErrorCode.TOO_MANY_PIXELS


class BadAspectRatio(ImageRejected):
    code = ErrorCode.BAD_ASPECT_RATIO


class UnknownModel(JobsError):
    code = ErrorCode.UNKNOWN_MODEL


class NoModelsServed(JobsError):
    code = ErrorCode.NO_MODELS


class QueueUnavailable(JobsError):
    code = ErrorCode.QUEUE_UNAVAILABLE


class NotReplicated(QueueUnavailable):
    """Fewer replicas than KENNEL_REDIS_MIN_REPLICAS confirmed the job in time: not accepted."""


class JobNotFound(JobsError):
    code = ErrorCode.JOB_NOT_FOUND


class QueueFull(JobsError):
    """Too many jobs (KENNEL_MAX_QUEUED) or image bytes (KENNEL_MAX_QUEUED_BYTES) wait."""

    code = ErrorCode.QUEUE_FULL


class DeadlineUnreachable(JobsError):
    """The job's deadline is shorter than its expected wait."""

    code = ErrorCode.DEADLINE_UNREACHABLE


class IdempotencyKeyReused(JobsError):
    """An Idempotency-Key already made a job from another submission."""

    code = ErrorCode.IDEMPOTENCY_KEY_REUSED


class JobAlreadyEnded(JobsError):
    code = ErrorCode.JOB_ALREADY_ENDED
