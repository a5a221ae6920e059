"""Telegram's 429 flood control is waited out, not turned into a crash."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram.exceptions import TelegramRetryAfter

from bot.app import create_bot
from bot.settings import BotSettings
from tests.bot.fake_telegram import TOKEN, FakeTelegram


async def send(telegram: FakeTelegram, chat_id: int) -> None:
    bot = create_bot(BotSettings(token=TOKEN, telegram_api_url=telegram.url))
    try:
        await bot.send_message(chat_id, "hello")
    finally:
        await bot.session.close()


def test_a_429_is_retried_after_the_wait_telegram_asks_for(
    telegram: FakeTelegram, chat_id: int
) -> None:
    telegram.fail_next("sendMessage", retry_after=1)
    started = time.monotonic()
    asyncio.run(send(telegram, chat_id))
    assert time.monotonic() - started >= 1
    assert [c.refused for c in telegram.calls("sendMessage", chat_id)] == [True, False]


def test_a_wait_longer_than_a_minute_is_not_held(telegram: FakeTelegram, chat_id: int) -> None:
    telegram.fail_next("sendMessage", retry_after=3600)
    with pytest.raises(TelegramRetryAfter):
        asyncio.run(send(telegram, chat_id))
