"""Import boundaries: serving never loads torch, and the API and the bot never load onnxruntime."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "timm", "onnxruntime", "aiogram", "fastapi")


def loaded_after_import(*modules: str) -> set[str]:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(filter(None, done.stdout.strip().split(",")))


@pytest.mark.parametrize(
    ("modules", "expected"),
    [
        (("api.app", "api.__main__"), {"fastapi"}),
        (("worker.app", "worker.__main__"), {"onnxruntime"}),
        (("bot.app", "bot.__main__"), {"aiogram"}),
        (("jobs.client", "stack.__main__"), set()),
        (("kennel.client", "kennel.__main__", "jobs.webhooks.delivery"), set()),
    ],
    ids=["api", "worker", "bot", "jobs-and-stack", "client-and-webhooks"],
)
def test_each_service_loads_only_what_it_needs(
    modules: tuple[str, ...], expected: set[str]
) -> None:
    assert loaded_after_import(*modules) == expected
