"""Settings come from KENNEL_BOT_* (and two shared names); mistakes name the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import BadSettings
from bot.settings import TELEGRAM_DOWNLOAD_LIMIT, load_settings
from stack.processes import ROOT


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No KENNEL_* variables and no .env file: only what the test sets."""
    for name in os.environ:
        if name.startswith("KENNEL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_bot_without_a_token_exits_naming_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KENNEL_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "KENNEL_BOT_TOKEN is not set" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_value_names_its_variable(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KENNEL_BOT_TOKEN", "1:x")
    clean_env.setenv("KENNEL_BOT_RATE_LIMIT", "0")
    with pytest.raises(BadSettings, match="KENNEL_BOT_RATE_LIMIT"):
        load_settings()


def test_local_bot_api_server_and_queue_come_from_shared_names(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("KENNEL_BOT_TOKEN", "1:hunter2")
    clean_env.setenv("KENNEL_TELEGRAM_API_URL", "http://127.0.0.1:8081")
    clean_env.setenv("KENNEL_REDIS_URL", "redis://redis:6379/1")
    settings = load_settings()
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    assert settings.queue.redis_url == "redis://redis:6379/1"
    assert "hunter2" not in repr(settings)
    assert settings.mode == "polling"


def test_downloads_are_capped_by_the_queue_and_by_telegram(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("KENNEL_BOT_TOKEN", "1:x")
    assert load_settings().max_download_bytes == 10 * 1024 * 1024  # the queue's default
    clean_env.setenv("KENNEL_MAX_UPLOAD_BYTES", str(100 * 1024 * 1024))
    assert load_settings().max_download_bytes == TELEGRAM_DOWNLOAD_LIMIT


def test_something_that_is_not_a_token_is_refused(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KENNEL_BOT_TOKEN", "paste-your-token-here")
    with pytest.raises(BadSettings, match="KENNEL_BOT_TOKEN is not a bot token"):
        load_settings()
