"""Schemathesis against the live API: every operation, every phase, within a time budget.

It generates requests from the API's own OpenAPI (valid and invalid: wrong types, missing and
extra fields, odd methods, stateful POST-then-GET sequences) and checks each answer against the
document: no 5xx, documented status codes, content types, headers and bodies, `Allow` on 405.
"""

from __future__ import annotations

import subprocess
import sys

from stack.system import LocalSystem
from tests.conftest import TESTS

MAX_TIME_S = 45


def test_schemathesis_finds_nothing(system: LocalSystem) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(TESTS / "system" / "schemathesis.toml"),
            "--no-color",
            "run",
            f"{system.api_url}/openapi.json",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-time",
            str(MAX_TIME_S),
            "--max-examples",
            "30",
            "--seed",
            "8",
            "--workers",
            "2",
            "--request-timeout",
            "60",
        ],
        capture_output=True,
        text=True,
        timeout=MAX_TIME_S + 120,
    )
    print(done.stdout[-3000:])
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
