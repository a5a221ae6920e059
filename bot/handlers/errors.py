"""The one place where errors become replies: the bot's own, the queue's, and the unexpected."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent, Message

from bot import replies
from bot.errors import AnswerTimedOut, BotError, ImageTooLarge, JobFailed, RateLimited
from jobs.contract import ErrorCode
from jobs.errors import (
    ImageRejected,
    JobsError,
    NoModelsServed,
    QueueFull,
    QueueUnavailable,
    UnknownModel,
)

log = logging.getLogger(__name__)
router = Router(name="errors")


# Errors whose reply does not depend on their details.
FIXED_REPLIES: dict[type[Exception], str] = {
    AnswerTimedOut: replies.TIMED_OUT,
    QueueUnavailable: replies.QUEUE_DOWN,
    QueueFull: replies.BUSY,
    NoModelsServed: replies.NO_MODELS,
    UnknownModel: replies.MODEL_GONE,
}


def explain(exc: BotError | JobsError) -> str:
    """What the chat is told for a known error."""
    if isinstance(exc, ImageTooLarge):
        return replies.too_large(exc.size, exc.limit)
    if isinstance(exc, RateLimited):
        return replies.rate_limited(exc.limit, exc.window_s)
    if isinstance(exc, JobFailed):
        return replies.DECODE_FAILED if exc.code == ErrorCode.DECODE_FAILED else replies.JOB_FAILED
    if isinstance(exc, ImageRejected):
        return replies.IMAGE_REJECTED.get(exc.code, replies.UNEXPECTED)
    return next(
        (text for kind, text in FIXED_REPLIES.items() if isinstance(exc, kind)), replies.UNEXPECTED
    )


@router.errors(ExceptionTypeFilter(BotError, JobsError), F.update.message.as_("message"))
async def on_known_error(event: ErrorEvent, message: Message) -> None:
    log.warning("chat %s: %s: %s", message.chat.id, type(event.exception).__name__, event.exception)
    assert isinstance(event.exception, BotError | JobsError)  # the filter guarantees it
    await message.reply(explain(event.exception))


@router.errors(F.update.message.as_("message"))
async def on_unexpected_error(event: ErrorEvent, message: Message) -> None:
    log.error("chat %s: unexpected error", message.chat.id, exc_info=event.exception)
    await message.reply(replies.UNEXPECTED)
