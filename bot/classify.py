"""One image from a chat to one finished job: size check, rate limit, download, submit, wait."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot

from bot.chats import ChatModels, RateLimiter
from bot.errors import AnswerTimedOut, DownloadFailed, ImageTooLarge, JobFailed
from jobs.client import JobClient
from jobs.contract import JobStatus, Prediction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TelegramImage:
    """A file in a message, as Telegram describes it before anything is downloaded."""

    file_id: str
    file_size: int | None


@dataclass(frozen=True)
class ClassifyService:
    jobs: JobClient
    chat_models: ChatModels
    limiter: RateLimiter
    top_k: int
    answer_timeout_s: float
    max_download_bytes: int

    async def classify(self, bot: Bot, chat_id: int, image: TelegramImage) -> list[Prediction]:
        self._check_size(image.file_size)
        await self.limiter.acquire(chat_id)
        data = await self._download(bot, image)
        model = await self.chat_models.get(chat_id)
        job = (await self.jobs.submit(data, model, self.top_k, source="bot")).job
        log.info("job %s submitted for chat %s (model %s)", job.id, chat_id, model)
        done = await self.jobs.wait(job.id, self.answer_timeout_s)
        if done is None or not done.status.is_terminal():
            log.warning("job %s: no answer within %.0fs", job.id, self.answer_timeout_s)
            raise AnswerTimedOut(job.id)
        if done.status is JobStatus.FAILED or done.result is None:
            code, message = (done.error.code, done.error.message) if done.error else ("", "")
            raise JobFailed(job.id, code, message)
        log.info("job %s answered chat %s", job.id, chat_id)
        return done.result.predictions

    def _check_size(self, size: int | None) -> None:
        if size is not None and size > self.max_download_bytes:
            raise ImageTooLarge(size, self.max_download_bytes)

    async def _download(self, bot: Bot, image: TelegramImage) -> bytes:
        file = await bot.get_file(image.file_id)
        self._check_size(file.file_size)
        if file.file_path is None:
            raise DownloadFailed(f"Telegram gave no path to download file {image.file_id}")
        buffer = await bot.download_file(file.file_path, timeout=60)
        assert buffer is not None  # no destination given: aiogram returns a BytesIO
        data = buffer.read()
        self._check_size(len(data))
        return data
