"""Standard Webhooks v1 verification (own shop, BigCommerce): HMAC-SHA256 over id.timestamp.body.

The signing itself is the official `standardwebhooks` package's; this module adds what a
server needs around it: an injectable clock, several secrets at once (rotation overlap), and
errors that say which header is wrong.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

from chalicelib.domain.errors import InvalidPayload, InvalidSignature, StaleTimestamp

TOLERANCE = timedelta(minutes=5)


def verify_standard_webhook(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], now: datetime
) -> str:
    """Verify a delivery; return its `webhook-id`. Header names may come in any case."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    timestamp = lowered.get("webhook-timestamp", "")
    signature = lowered.get("webhook-signature", "")
    for name, value in (
        ("webhook-id", msg_id),
        ("webhook-timestamp", timestamp),
        ("webhook-signature", signature),
    ):
        if not value:
            raise InvalidSignature(f"missing {name} header (Standard Webhooks signing)")
    try:
        sent_at = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise InvalidSignature("webhook-timestamp must be whole Unix seconds") from None
    if abs(now - sent_at) > TOLERANCE:
        raise StaleTimestamp(
            f"webhook-timestamp {timestamp} is {int(abs((now - sent_at).total_seconds()))} s "
            "from our clock; deliveries must be signed within 5 minutes of sending"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPayload("body must be UTF-8 encoded JSON") from None

    offered = [
        part.split(",", 1)[1].encode()
        for part in signature.split()
        if part.startswith("v1,") and "," in part
    ]
    if not offered:
        raise InvalidSignature("webhook-signature has no v1 signature ('v1,<base64>')")
    for secret in secrets:
        expected = Webhook(secret).sign(msg_id, sent_at, text).split(",", 1)[1].encode()
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return msg_id
    raise InvalidSignature("webhook-signature does not match the store's signing secret")


def sign_standard_webhook(secret: str, msg_id: str, sent_at: datetime, body: bytes) -> str:
    """The `webhook-signature` header value for a body: for tests, the demo and the benchmark."""
    return Webhook(secret).sign(msg_id, sent_at, body.decode("utf-8"))
