"""Reading KENNEL_API_KEYS: the documented format, and a clear refusal of anything else."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keyring import ApiClient, KeyFileInvalid, KeyRing
from api.settings import ApiSettings


def test_lines_comments_and_blanks() -> None:
    ring = KeyRing.parse("# key client rate\n\nk-alice alice 60\nk-bob  bob 5  # batch jobs\n")
    assert len(ring) == 2
    assert ring.client("k-alice") == ApiClient("alice", 60)
    assert ring.client("k-bob") == ApiClient("bob", 5)
    assert ring.client("k-carol") is None
    assert ring.client("k-alic") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("k-alice alice\n", "expected `key client-name rate-per-minute`"),
        ("k-alice alice 60 extra\n", "expected `key client-name rate-per-minute`"),
        ("k-alice alice sixty\n", "whole number above 0"),
        ("k-alice alice 0\n", "whole number above 0"),
        ("k alice 1\nk bob 1\n", "listed twice"),
        ("# nothing here\n", "lists no keys"),
    ],
)
def test_malformed_files_are_refused(text: str, problem: str) -> None:
    with pytest.raises(KeyFileInvalid, match=problem):
        KeyRing.parse(text, "keys.txt")


def test_the_line_number_is_named() -> None:
    with pytest.raises(KeyFileInvalid, match=r"keys\.txt:3"):
        KeyRing.parse("a alice 1\n\nb bob\n", "keys.txt")


def test_the_api_does_not_start_on_a_missing_keys_file(tmp_path: Path) -> None:
    settings = ApiSettings(keys=tmp_path / "absent.txt")
    with pytest.raises(KeyFileInvalid, match=r"absent\.txt"), TestClient(create_app(settings)):
        pass
