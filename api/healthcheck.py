"""python -m api.healthcheck: exit 0 when this machine's API answers /healthz (Docker's check)."""

import sys
import urllib.request

from api.settings import ApiSettings

TIMEOUT_S = 4


def healthy(settings: ApiSettings) -> bool:
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "") else settings.host
    try:
        with urllib.request.urlopen(
            f"http://{host}:{settings.port}/healthz", timeout=TIMEOUT_S
        ) as response:
            return bool(response.status == 200)
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(0 if healthy(ApiSettings()) else 1)
