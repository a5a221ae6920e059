"""python -m api: serve the API with uvicorn."""

import logging

import uvicorn

from api.app import create_app
from api.settings import ApiSettings


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ApiSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=settings.access_log,
    )


if __name__ == "__main__":
    main()
