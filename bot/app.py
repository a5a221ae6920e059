"""Builds the bot, its dispatcher and what the handlers use, and runs them until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import PRODUCTION, TelegramAPIServer
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from bot import handlers
from bot.chats import ChatModels, RateLimiter
from bot.classify import ClassifyService
from bot.retry import RetryAfter
from bot.settings import BotSettings
from jobs import metrics
from jobs.client import JobClient

log = logging.getLogger(__name__)


def create_bot(settings: BotSettings) -> Bot:
    url = settings.telegram_api_url
    session = AiohttpSession(api=TelegramAPIServer.from_base(url) if url else PRODUCTION)
    session.middleware(RetryAfter())
    return Bot(
        settings.token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(link_preview_is_disabled=True),
    )


def create_dispatcher(settings: BotSettings, jobs: JobClient, redis: aioredis.Redis) -> Dispatcher:
    chat_models = ChatModels(redis, settings.default_model)
    classifier = ClassifyService(
        jobs=jobs,
        chat_models=chat_models,
        limiter=RateLimiter(redis, settings.rate_limit, settings.rate_window_s),
        top_k=settings.top_k,
        answer_timeout_s=settings.answer_timeout_s,
        max_download_bytes=settings.max_download_bytes,
    )
    dispatcher = Dispatcher(
        settings=settings, jobs=jobs, chat_models=chat_models, classifier=classifier
    )
    dispatcher.include_router(handlers.router)
    return dispatcher


@contextlib.asynccontextmanager
async def connected(settings: BotSettings) -> AsyncIterator[tuple[JobClient, aioredis.Redis]]:
    """The job client and the Redis client the bot uses (one pool for both)."""
    jobs = JobClient.connect(settings.queue, name="kennel-bot")
    try:
        yield jobs, jobs.redis
    finally:
        await jobs.close()  # closes the Redis client too


async def serve(settings: BotSettings) -> None:
    metrics.serve(settings.metrics_port, settings.metrics_host, "KENNEL_BOT_METRICS_PORT")
    async with connected(settings) as (jobs, redis):
        bot = create_bot(settings)
        dispatcher = create_dispatcher(settings, jobs, redis)
        if settings.mode == "webhook":
            await serve_webhook(settings, bot, dispatcher)
        else:
            await bot.delete_webhook()
            log.info("polling %s for updates", settings.telegram_api_url or "api.telegram.org")
            await dispatcher.start_polling(bot)


async def serve_webhook(settings: BotSettings, bot: Bot, dispatcher: Dispatcher) -> None:
    if not settings.webhook_url:
        raise SystemExit("KENNEL_BOT_WEBHOOK_URL is not set (needed when KENNEL_BOT_MODE=webhook)")
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    app = web.Application()
    SimpleRequestHandler(dispatcher=dispatcher, bot=bot, secret_token=secret).register(
        app, path=settings.webhook_path
    )
    setup_application(app, dispatcher, bot=bot)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
        url = settings.webhook_url.rstrip("/") + settings.webhook_path
        await bot.set_webhook(url, secret_token=secret)
        log.info("webhook %s set; listening on port %d", url, settings.webhook_port)
        await stopped()
    finally:
        await runner.cleanup()


async def stopped() -> None:
    """Returns on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
