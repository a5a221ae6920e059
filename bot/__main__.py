"""python -m bot: run kennel's Telegram bot (polling by default, or a webhook server)."""

import asyncio
import logging
import sys

from bot.errors import BadSettings
from bot.settings import load_settings


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings()
    except BadSettings as exc:
        sys.exit(f"kennel bot: {exc}. See docs/bot.md.")
    # Imported only now: aiogram takes seconds to import, and a bad setting should not wait.
    from bot.app import serve

    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
