"""Anything else a chat sends (text, stickers, videos, other files): say what to send."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import Message

from bot import replies

router = Router(name="fallback")


@router.message()
async def on_anything_else(message: Message) -> None:
    await message.reply(replies.SEND_A_PHOTO)
