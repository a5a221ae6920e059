"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

The secret is given as `whsec_<base64 of the key bytes>` (https://www.standardwebhooks.com).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid

SECRET_PREFIX = "whsec_"


class InvalidSecret(ValueError):
    """KENNEL_WEBHOOK_SECRET is not `whsec_` followed by base64."""


def new_message_id() -> str:
    """A delivery's id: the same on every retry, so receivers can drop duplicates."""
    return f"msg_{uuid.uuid4().hex}"


class Signer:
    def __init__(self, secret: str) -> None:
        if not secret.startswith(SECRET_PREFIX):
            raise InvalidSecret("A webhook secret starts with `whsec_` (Standard Webhooks).")
        try:
            self._key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error as exc:
            raise InvalidSecret("A webhook secret is `whsec_` followed by base64.") from exc
        if len(self._key) < 16:
            raise InvalidSecret("A webhook secret needs at least 16 bytes of key (24 in base64).")

    def signature(self, message_id: str, timestamp: int, body: bytes) -> str:
        signed = f"{message_id}.{timestamp}.".encode() + body
        digest = hmac.new(self._key, signed, hashlib.sha256).digest()
        return f"v1,{base64.b64encode(digest).decode()}"

    def headers(self, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        return {
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.signature(message_id, timestamp, body),
        }
