"""ClassifyService and the per-chat state against a real redis-server, with no worker running.

With nothing consuming the queue, a job stays queued: that is how the bounded wait is tested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bot.app import connected, create_bot
from bot.chats import ChatModels, RateLimiter
from bot.classify import ClassifyService, TelegramImage
from bot.errors import AnswerTimedOut, ImageTooLarge, RateLimited
from bot.settings import BotSettings
from jobs import protocol
from jobs.contract import JobStatus, ModelInfo
from stack.redis import EmbeddedRedis
from tests.bot.fake_telegram import TOKEN, FakeTelegram
from tests.conftest import photo


@pytest.fixture(scope="module")
def idle_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis where a model is announced but no worker takes jobs."""
    var = Path(tmp_path_factory.mktemp("idle-queue"))
    server = EmbeddedRedis(var / "data", var / "logs", persist=False).start()
    model = ModelInfo(name="imagewoof", labels=["beagle"])
    with redis.Redis.from_url(server.url) as client:
        client.hset(protocol.MODELS, model.name, model.model_dump_json())
    yield server.url
    server.stop()


@pytest.fixture
def settings(idle_queue: str, telegram: FakeTelegram) -> BotSettings:
    return BotSettings.model_validate(
        {
            "token": TOKEN,
            "telegram_api_url": telegram.url,
            "answer_timeout_s": 0.5,
            "rate_limit": 2,
            "queue": {"redis_url": idle_queue},
        }
    )


async def classify_once(settings: BotSettings, chat_id: int, image: TelegramImage) -> None:
    async with connected(settings) as (jobs, redis):
        service = ClassifyService(
            jobs=jobs,
            chat_models=ChatModels(redis, settings.default_model),
            limiter=RateLimiter(redis, settings.rate_limit, settings.rate_window_s),
            top_k=3,
            answer_timeout_s=settings.answer_timeout_s,
            max_download_bytes=settings.max_download_bytes,
        )
        bot = create_bot(settings)
        try:
            await service.classify(bot, chat_id, image)
        finally:
            await bot.session.close()


def uploaded(telegram: FakeTelegram, chat_id: int, data: bytes) -> TelegramImage:
    telegram.send_document(chat_id, data, "image/jpeg")
    return TelegramImage(telegram.last_file_id(), len(data))


def test_no_answer_in_time_tells_the_job_id_and_keeps_the_job(
    settings: BotSettings, telegram: FakeTelegram, chat_id: int, idle_queue: str
) -> None:
    image = uploaded(telegram, chat_id, photo("grad_dog_cat.jfif").data)
    with pytest.raises(AnswerTimedOut) as timed_out:
        asyncio.run(classify_once(settings, chat_id, image))
    with redis.Redis.from_url(idle_queue) as client:
        raw = client.get(protocol.job_key(timed_out.value.job_id))
    assert raw is not None, "the job was lost"
    assert JobStatus.QUEUED.value in raw.decode()


def test_a_chat_over_its_limit_is_refused_and_others_are_not(
    settings: BotSettings, telegram: FakeTelegram, chat_id: int
) -> None:
    image = uploaded(telegram, chat_id, photo("grad_dog_cat.jfif").data)
    for _ in range(settings.rate_limit):
        with pytest.raises(AnswerTimedOut):
            asyncio.run(classify_once(settings, chat_id, image))
    with pytest.raises(RateLimited):
        asyncio.run(classify_once(settings, chat_id, image))
    with pytest.raises(AnswerTimedOut):
        asyncio.run(classify_once(settings, chat_id + 10_000, image))


def test_too_large_a_file_is_refused_before_any_request(
    settings: BotSettings, telegram: FakeTelegram, chat_id: int
) -> None:
    calls_before = len(telegram.calls())
    huge = TelegramImage("never-downloaded", settings.max_download_bytes + 1)
    with pytest.raises(ImageTooLarge):
        asyncio.run(classify_once(settings, chat_id, huge))
    assert len(telegram.calls()) == calls_before
