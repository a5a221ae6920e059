"""Our Standard Webhooks signatures verify with an independent implementation (standardwebhooks)."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from jobs.webhooks.signing import InvalidSecret, Signer, new_message_id

SECRET = "whsec_" + base64.b64encode(b"kennel-test-secret-0123456789").decode()
BODY = b'{"id":"abc","status":"succeeded","result":{"predictions":[]}}'


def test_a_signature_verifies_with_standardwebhooks() -> None:
    message_id, now = new_message_id(), int(time.time())
    headers = Signer(SECRET).headers(message_id, now, BODY)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(BODY, headers) == {
        "id": "abc",
        "status": "succeeded",
        "result": {"predictions": []},
    }


def test_the_spec_example_signature() -> None:
    """The example in the Standard Webhooks spec (its reference test vector)."""
    signer = Signer("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = signer.signature(
        "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
        lambda h, b: (h, b.replace(b"succeeded", b"failed")),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
    ],
    ids=["id", "body", "timestamp"],
)
def test_a_tampered_delivery_does_not_verify(tamper: object) -> None:
    headers = Signer(SECRET).headers(new_message_id(), int(time.time()), BODY)
    changed_headers, changed_body = tamper(headers, BODY)  # type: ignore[operator]
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(changed_body, changed_headers)


def test_another_secret_does_not_verify() -> None:
    headers = Signer(SECRET).headers(new_message_id(), int(time.time()), BODY)
    other = "whsec_" + base64.b64encode(b"another-secret-of-kennel-tests").decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(BODY, headers)


@pytest.mark.parametrize(
    ("secret", "problem"),
    [("plain-secret", "starts with"), ("whsec_!!!", "base64"), ("whsec_c2hvcnQ=", "16 bytes")],
)
def test_a_malformed_secret_is_refused(secret: str, problem: str) -> None:
    with pytest.raises(InvalidSecret, match=problem):
        Signer(secret)
