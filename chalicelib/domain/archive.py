"""Where the raw payload of each event is kept for investigation. Pure Python.

Every accepted event's payload, exactly as the platform sent it (verified bytes, decoded as
UTF-8 with replacement), is kept in the raw-payload bucket under a key derived from the event
alone, so anyone holding an event key and its receipt time (the trail has both) finds it:

    raw/<platform>/<store>/<YYYY>/<MM>/<DD>/<sha256(event_key), 40 hex>.json

The processor writes it before booking (off the platform's clock; the queue message carries
the payload until then, in S3 too when over SQS's limit). Rewriting on a retry or a
duplicate delivery puts the same bytes under the same key. The bucket expires objects after
90 days (infra/resources.json).
"""

from __future__ import annotations

import hashlib
from typing import Any

from chalicelib.domain.model import OrderEvent


def raw_key(event: OrderEvent) -> str:
    day = event.received_at.strftime("%Y/%m/%d")
    digest = hashlib.sha256(event.event_key.encode("utf-8")).hexdigest()[:40]
    return f"raw/{event.platform}/{event.store}/{day}/{digest}.json"


def raw_document(event: OrderEvent, raw: str) -> dict[str, Any]:
    """What is stored: the payload with what identifies it."""
    return {
        "event_key": event.event_key,
        "order_key": event.order_key,
        "received_at": event.received_at.isoformat(),
        "raw": raw,
    }
