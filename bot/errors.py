"""What can go wrong in the bot, as exceptions. handlers/errors.py turns each into a reply."""

from __future__ import annotations


class BotError(Exception):
    """The root of the bot's own errors."""


class BadSettings(BotError):
    """The environment does not configure a runnable bot."""


class DownloadFailed(BotError):
    """Telegram would not hand over the file."""


class ImageTooLarge(BotError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"file of {size} bytes over the {limit}-byte limit")
        self.size = size
        self.limit = limit


class RateLimited(BotError):
    def __init__(self, limit: int, window_s: int) -> None:
        super().__init__(f"over {limit} images per {window_s}s")
        self.limit = limit
        self.window_s = window_s


class AnswerTimedOut(BotError):
    """The job is still queued or running; it finishes in Redis, the chat just stops waiting."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} did not finish in time")
        self.job_id = job_id


class JobFailed(BotError):
    """A worker took the job and it failed (e.g. the image did not decode)."""

    def __init__(self, job_id: str, code: str, message: str) -> None:
        super().__init__(f"job {job_id} failed: {code}: {message}")
        self.job_id = job_id
        self.code = code
