"""python -m tests.system.crashing_worker: a real kennel worker that dies on a marker image.

Test-only (never imported by kennel itself): it wraps the worker's preprocessing so that an
image containing `MARKER` ends the process at once (`os._exit`), as a crash in native code
would, then runs the ordinary worker.
"""

from __future__ import annotations

import os
from typing import Any

from worker import runtime
from worker.__main__ import main as worker_main

MARKER = b"kennel-test-marker:crash-the-worker"
EXIT_CODE = 17


def main() -> None:
    real = runtime.preprocess

    def crashing(data: bytes, *args: Any, **kwargs: Any) -> Any:
        if MARKER in data:
            os._exit(EXIT_CODE)
        return real(data, *args, **kwargs)

    runtime.preprocess = crashing  # type: ignore[assignment]
    worker_main()


if __name__ == "__main__":
    main()
