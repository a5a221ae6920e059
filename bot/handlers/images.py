"""A photo, or an image sent as a file: classify it and reply with the top guesses."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import Message
from aiogram.utils.chat_action import ChatActionSender

from bot import replies
from bot.classify import ClassifyService, TelegramImage
from bot.settings import BotSettings

router = Router(name="images")


@router.message(F.photo)
async def on_photo(
    message: Message, bot: Bot, classifier: ClassifyService, settings: BotSettings
) -> None:
    assert message.photo  # the filter guarantees it
    largest = max(message.photo, key=lambda size: size.width * size.height)
    image = TelegramImage(largest.file_id, largest.file_size)
    await answer(message, bot, classifier, image, settings.confidence_threshold)


@router.message(F.document.mime_type.startswith("image/"))
async def on_image_file(
    message: Message, bot: Bot, classifier: ClassifyService, settings: BotSettings
) -> None:
    assert message.document  # the filter guarantees it
    image = TelegramImage(message.document.file_id, message.document.file_size)
    await answer(message, bot, classifier, image, settings.confidence_threshold)


async def answer(
    message: Message, bot: Bot, classifier: ClassifyService, image: TelegramImage, threshold: float
) -> None:
    async with ChatActionSender.typing(bot=bot, chat_id=message.chat.id):
        found = await classifier.classify(bot, message.chat.id, image)
    await message.reply(replies.predictions(found, threshold))
