"""Webhook mode: the real bot process registers its URL and answers updates posted to it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot import replies
from stack.processes import Service, free_port, port_open, wait_until
from tests.bot.fake_telegram import TOKEN, FakeTelegram

pytestmark = pytest.mark.system

SECRET = "kennel-webhook-secret"
PATH = "/telegram/webhook"


@pytest.fixture(scope="module")
def webhook(telegram: FakeTelegram, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {
        "KENNEL_BOT_TOKEN": TOKEN,
        "KENNEL_TELEGRAM_API_URL": telegram.url,
        "KENNEL_BOT_MODE": "webhook",
        "KENNEL_BOT_WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "KENNEL_BOT_WEBHOOK_HOST": "127.0.0.1",
        "KENNEL_BOT_WEBHOOK_PORT": str(port),
        "KENNEL_BOT_WEBHOOK_SECRET": SECRET,
        # Text updates never reach the queue; nothing needs to listen here.
        "KENNEL_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    log_dir = Path(tmp_path_factory.mktemp("bot-webhook"))
    registered = len(telegram.calls("setWebhook"))
    service = Service("bot-webhook", [sys.executable, "-m", "bot"], log_dir, env).start()
    try:
        wait_until(
            lambda: len(telegram.calls("setWebhook")) > registered, 30, "the webhook bot", service
        )
        assert port_open(port)
        yield f"http://127.0.0.1:{port}{PATH}"
    finally:
        service.stop()


def test_webhook_is_registered_and_its_updates_answered(
    webhook: str, telegram: FakeTelegram, chat_id: int
) -> None:
    registered = telegram.calls("setWebhook")[-1]
    assert registered.params["url"] == webhook
    assert registered.params["secret_token"] == SECRET
    update = telegram.update(chat_id, {"text": "/help"})
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    assert httpx.post(webhook, json=update, headers=headers).status_code == 200
    assert telegram.wait_for_replies(chat_id)[0].text == replies.HELP


def test_webhook_refuses_a_caller_without_the_secret(
    webhook: str, telegram: FakeTelegram, chat_id: int
) -> None:
    update = telegram.update(chat_id, {"text": "/help"})
    assert httpx.post(webhook, json=update).status_code == 401
