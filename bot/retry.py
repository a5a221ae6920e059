"""Telegram's flood control: on 429 wait `retry_after` and send the request again."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)


class RetryAfter(BaseRequestMiddleware):
    """Retries a request Telegram answered with 429 up to `retries` times, sleeping as told.

    A wait longer than `max_wait_s` is not worth holding a chat for: the error propagates.
    """

    def __init__(self, retries: int = 2, max_wait_s: float = 60) -> None:
        self.retries = retries
        self.max_wait_s = max_wait_s

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        for attempt in range(1, self.retries + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if exc.retry_after > self.max_wait_s:
                    raise
                log.warning(
                    "%s: Telegram asks to retry after %ss (retry %d of %d)",
                    method.__api_method__,
                    exc.retry_after,
                    attempt,
                    self.retries,
                )
                await asyncio.sleep(exc.retry_after)
        return await make_request(bot, method)
