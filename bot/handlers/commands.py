"""/start, /help and /model."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from bot import replies
from bot.chats import ChatModels
from jobs.client import JobClient

router = Router(name="commands")


@router.message(CommandStart())
@router.message(Command("help"))
async def on_help(message: Message) -> None:
    await message.answer(replies.HELP)


@router.message(Command("model"))
async def on_model(
    message: Message, command: CommandObject, jobs: JobClient, chat_models: ChatModels
) -> None:
    available = [m.name for m in await jobs.models()]
    wanted = (command.args or "").strip()
    if not wanted:
        current = await chat_models.get(message.chat.id)
        await message.answer(replies.chat_model(current, available))
    elif wanted not in available:
        await message.answer(replies.unknown_model(wanted, available))
    else:
        await chat_models.set(message.chat.id, wanted)
        await message.answer(replies.model_set(wanted))
