"""Does the Redis that holds the jobs keep them across a restart? Read from its CONFIG.

Only an append-only file (`appendonly yes`) keeps every accepted job: with RDB snapshots alone
(`save`), a restart loses everything written since the last snapshot. `make up` (stack/redis.py)
and the API's `/readyz` (api/routes/health.py) both judge a Redis with `judge`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Durability:
    appendonly: str | None  # None: CONFIG GET is not allowed (a managed or locked-down Redis)
    save: str | None

    @property
    def durable(self) -> bool | None:
        """True with an append-only file, False without, None when it cannot be read."""
        return None if self.appendonly is None else self.appendonly == "yes"

    def describe(self) -> str:
        if self.durable is None:
            return "its configuration cannot be read (CONFIG GET refused), so durability is unknown"
        snapshots = f"RDB snapshots `save {self.save}`" if self.save else "no RDB snapshots"
        if self.durable:
            return f"append-only file on ({snapshots}): accepted jobs survive a restart"
        return (
            f"no append-only file ({snapshots}): a restart loses every job written since the "
            "last snapshot"
        )

    def as_json(self) -> dict[str, str | bool | None]:
        return {"durable": self.durable, "appendonly": self.appendonly, "save": self.save,
                "detail": self.describe()}  # fmt: skip


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def judge(config: Mapping[Any, Any] | None) -> Durability:
    """From the merged answers of `CONFIG GET appendonly` and `CONFIG GET save` (None: refused)."""
    if config is None:
        return Durability(None, None)
    values = {_text(k): _text(v) for k, v in config.items()}
    return Durability(values.get("appendonly"), values.get("save"))
