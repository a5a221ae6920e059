"""The bot's test parts: a fake Telegram Bot API server and chat ids no two tests share."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from tests.bot.fake_telegram import FakeTelegram

_chat_ids = itertools.count(1000)


@pytest.fixture
def chat_id() -> int:
    """A fresh chat: its own rate-limit window and model choice."""
    return next(_chat_ids)


@pytest.fixture(scope="module")
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake
