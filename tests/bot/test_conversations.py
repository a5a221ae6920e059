"""The real bot process (`python -m bot`) talks to a fake Telegram and a real kennel.

One kennel (embedded Redis, one worker) and one bot serve every test in this module; each test
uses its own chat. The Redis outage test runs last, as it empties Redis.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import replies
from stack.processes import Service, free_port, wait_until
from stack.readiness import workers_announced
from stack.system import LocalSystem
from tests.bot.fake_telegram import TOKEN, FakeTelegram
from tests.conftest import photo, start_system

pytestmark = pytest.mark.system

RATE_LIMIT = 10  # the largest album Telegram sends must pass
METRICS_PORT = free_port()
CATS = ("tabby", "tiger cat", "egyptian cat")


@pytest.fixture(scope="module")
def kennel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSystem]:
    running = start_system(tmp_path_factory.mktemp("bot-system"), workers=1)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def bot_process(
    kennel: LocalSystem, telegram: FakeTelegram, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    env = {
        **kennel.service_env,
        "KENNEL_BOT_TOKEN": TOKEN,
        "KENNEL_TELEGRAM_API_URL": telegram.url,
        "KENNEL_BOT_RATE_LIMIT": str(RATE_LIMIT),
        "KENNEL_BOT_ANSWER_TIMEOUT_S": "30",
        "KENNEL_BOT_METRICS_PORT": str(METRICS_PORT),
    }
    log_dir = Path(tmp_path_factory.mktemp("bot-logs"))
    service = Service("bot", [sys.executable, "-m", "bot"], log_dir, env).start()
    try:
        wait_until(lambda: bool(telegram.calls("getUpdates")), 30, "the bot", service)
        yield service
    finally:
        service.stop()


@pytest.fixture
def bot(bot_process: Service, telegram: FakeTelegram) -> FakeTelegram:
    """The fake Telegram, with the real bot polling it."""
    assert bot_process.alive(), bot_process.log_tail()
    return telegram


def only_reply(bot: FakeTelegram, chat_id: int, timeout_s: float = 30) -> str:
    replies_seen = bot.wait_for_replies(chat_id, 1, timeout_s)
    assert len(replies_seen) == 1, replies_seen
    return replies_seen[0].text


def test_start_explains_what_the_bot_does(bot: FakeTelegram, chat_id: int) -> None:
    bot.send_text(chat_id, "/start")
    assert only_reply(bot, chat_id) == replies.HELP


def test_dog_photo_gets_its_breed_as_a_reply(bot: FakeTelegram, chat_id: int) -> None:
    message_id = bot.send_photo(chat_id, photo("grad_dog_cat.jfif").data)
    reply = bot.wait_for_replies(chat_id)[0]
    assert reply.reply_to == message_id
    first = reply.text.splitlines()[0]
    assert first.startswith("Golden retriever — "), reply.text
    assert len(reply.text.splitlines()) == 3
    assert bot.calls("sendChatAction", chat_id)[0].params["action"] == "typing"


def test_the_bot_counts_its_submissions_in_its_metrics(bot: FakeTelegram, chat_id: int) -> None:
    def submitted() -> float:
        text = httpx.get(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10).text
        samples = {
            (s.name, s.labels.get("source")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        return samples.get(("kennel_jobs_submitted_total", "bot"), 0.0)

    before = submitted()
    bot.send_photo(chat_id, photo("grad_dog_cat.jfif").data)
    bot.wait_for_replies(chat_id)
    assert submitted() == before + 1


def test_cat_photo_after_model_imagenet_is_named_a_cat(bot: FakeTelegram, chat_id: int) -> None:
    bot.send_text(chat_id, "/model imagenet")
    assert bot.wait_for_replies(chat_id)[0].text == replies.model_set("imagenet")
    bot.send_photo(chat_id, photo("scikit_chelsea.png").data, size=(451, 300))
    answer = bot.wait_for_replies(chat_id, 2)[1].text.lower()
    assert any(cat in answer for cat in CATS), answer
    bot.send_text(chat_id, "/model")
    assert "uses the model imagenet" in bot.wait_for_replies(chat_id, 3)[2].text


def test_unknown_model_is_refused_with_the_list(bot: FakeTelegram, chat_id: int) -> None:
    bot.send_text(chat_id, "/model resnet9000")
    served = ["imagenet", "imagewoof"]
    assert only_reply(bot, chat_id) == replies.unknown_model("resnet9000", served)


def test_dog_outside_the_ten_breeds_is_answered_honestly(bot: FakeTelegram, chat_id: int) -> None:
    bot.send_photo(chat_id, photo("gcompris_dog.webp").data)  # a German shepherd
    assert only_reply(bot, chat_id).startswith(replies.NOT_SURE)


def test_image_sent_as_a_file_is_classified(bot: FakeTelegram, chat_id: int) -> None:
    bot.send_document(chat_id, photo("grad_dog_cat.jfif").data, "image/jpeg")
    assert only_reply(bot, chat_id).startswith("Golden retriever — ")


@pytest.mark.parametrize(
    "send",
    [
        pytest.param(lambda bot, chat: bot.send_text(chat, "what breed is my dog?"), id="text"),
        pytest.param(lambda bot, chat: bot.send_sticker(chat), id="sticker"),
        pytest.param(
            lambda bot, chat: bot.send_document(chat, b"%PDF-1.4", "application/pdf"),
            id="pdf-document",
        ),
    ],
)
def test_anything_but_an_image_gets_told_what_to_send(
    bot: FakeTelegram, chat_id: int, send: object
) -> None:
    send(bot, chat_id)  # type: ignore[operator]
    assert only_reply(bot, chat_id) == replies.SEND_A_PHOTO


def test_oversize_file_is_refused_before_download(bot: FakeTelegram, chat_id: int) -> None:
    downloads_before = len(bot.calls("getFile"))
    bot.send_document(chat_id, b"not downloaded", "image/png", file_size=25 * 1024 * 1024)
    assert only_reply(bot, chat_id).startswith("That file is too big for me (25.0 MB)")
    assert len(bot.calls("getFile")) == downloads_before


def test_corrupt_image_gets_a_damaged_file_message(
    bot: FakeTelegram, chat_id: int, truncated_jpeg: bytes
) -> None:
    bot.send_document(chat_id, truncated_jpeg, "image/jpeg")
    assert only_reply(bot, chat_id) == replies.DECODE_FAILED


def test_every_photo_of_an_album_is_answered(bot: FakeTelegram, chat_id: int) -> None:
    album = [photo("grad_dog_cat.jfif"), photo("gcompris_dog.webp"), photo("scikit_chelsea.png")]
    sent = [bot.send_photo(chat_id, p.data, media_group_id="album-1") for p in album]
    answered = bot.wait_for_replies(chat_id, len(sent))
    assert sorted(r.reply_to for r in answered) == sorted(sent)  # type: ignore[type-var]
    by_message = {r.reply_to: r.text for r in answered}
    assert by_message[sent[0]].startswith("Golden retriever — ")


def test_photos_over_the_rate_limit_are_refused_politely(bot: FakeTelegram, chat_id: int) -> None:
    dog = photo("grad_dog_cat.jfif").data
    for _ in range(RATE_LIMIT + 1):
        bot.send_photo(chat_id, dog)
    answered = bot.wait_for_replies(chat_id, RATE_LIMIT + 1, timeout_s=60)
    texts = [r.text for r in answered]
    assert texts.count(replies.rate_limited(RATE_LIMIT, 60)) == 1, texts
    assert sum(t.startswith("Golden retriever") for t in texts) == RATE_LIMIT


def test_telegram_flood_control_is_waited_out(bot: FakeTelegram, chat_id: int) -> None:
    bot.fail_next("sendMessage", retry_after=1)
    started = time.monotonic()
    bot.send_text(chat_id, "/help")
    assert only_reply(bot, chat_id) == replies.HELP
    assert time.monotonic() - started >= 1
    refused, sent = bot.calls("sendMessage", chat_id)
    assert refused.refused and not sent.refused


def test_redis_outage_is_explained_and_the_bot_recovers(
    bot: FakeTelegram, kennel: LocalSystem, chat_id: int
) -> None:
    assert kennel.embedded is not None
    dog = photo("grad_dog_cat.jfif").data
    kennel.embedded.stop()
    try:
        bot.send_photo(chat_id, dog)
        assert bot.wait_for_replies(chat_id)[0].text == replies.QUEUE_DOWN
    finally:
        kennel.embedded.start()
    wait_until(lambda: workers_announced(kennel.redis_url) >= 1, 30, "the worker's heartbeat")
    bot.send_photo(chat_id, dog)
    assert bot.wait_for_replies(chat_id, 2)[1].text.startswith("Golden retriever — ")
