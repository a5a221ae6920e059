"""python -m api: serve the API with uvicorn."""

import logging

from api.app import create_app
from api.server import serve
from api.settings import ApiSettings


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = ApiSettings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
