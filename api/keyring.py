"""The API clients let in when KENNEL_API_KEYS is set: `key client-name rate-per-minute` lines."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path


class KeyFileInvalid(ValueError):
    """The keys file cannot be read as documented: the API refuses to start on it."""


@dataclass(frozen=True)
class ApiClient:
    name: str
    rate_per_minute: int


def _digest(key: str) -> bytes:
    # Looked up by digest, so the lookup's timing says nothing about the keys themselves.
    return hashlib.sha256(key.encode()).digest()


class KeyRing:
    def __init__(self, clients: dict[str, ApiClient]) -> None:
        self._by_digest = {_digest(key): client for key, client in clients.items()}

    def __len__(self) -> int:
        return len(self._by_digest)

    def client(self, key: str) -> ApiClient | None:
        return self._by_digest.get(_digest(key))

    @classmethod
    def parse(cls, text: str, source: str = "keys file") -> KeyRing:
        """Blank lines and `#` comments are ignored; anything else malformed is an error."""
        clients: dict[str, ApiClient] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            clients[_key(line, f"{source}:{number}", clients)] = _client(line, f"{source}:{number}")
        if not clients:
            raise KeyFileInvalid(f"{source} lists no keys; unset KENNEL_API_KEYS to run open.")
        return cls(clients)

    @classmethod
    def load(cls, path: Path) -> KeyRing:
        try:
            text = path.read_text()
        except OSError as exc:
            raise KeyFileInvalid(f"KENNEL_API_KEYS={path}: {exc}") from exc
        return cls.parse(text, str(path))


def _key(line: str, where: str, seen: dict[str, ApiClient]) -> str:
    key = line.split()[0]
    if key in seen:
        raise KeyFileInvalid(f"{where}: a key is listed twice.")
    return key


def _client(line: str, where: str) -> ApiClient:
    fields = line.split()
    if len(fields) != 3:
        raise KeyFileInvalid(f"{where}: expected `key client-name rate-per-minute`.")
    _, name, rate = fields
    if not rate.isdigit() or int(rate) < 1:
        raise KeyFileInvalid(f"{where}: the rate per minute must be a whole number above 0.")
    return ApiClient(name=name, rate_per_minute=int(rate))
