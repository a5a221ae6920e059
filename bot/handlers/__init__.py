"""All of the bot's handlers, in the order they are tried. Errors first: it sees every update."""

from aiogram import Router

from bot.handlers import commands, errors, fallback, images

router = Router(name="kennel")
router.include_routers(errors.router, commands.router, images.router, fallback.router)
