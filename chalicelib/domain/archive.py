"""Where the raw payload of each event is kept for investigation. Pure Python.

Every accepted event's payload, exactly as the platform sent it (verified bytes, decoded as
UTF-8 with replacement), is kept in the raw-payload bucket under a key derived from the event
alone, so anyone holding an event key and its receipt time (the trail has both) finds it:

    raw/<platform>/<store>/<YYYY>/<MM>/<DD>/<sha256(event_key), 40 hex>.json

The processor writes it before booking (off the platform's clock; the queue message carries
the payload until then, in S3 too when over SQS's limit). Rewriting on a retry or a
duplicate delivery puts the same payload under the same key. The bucket expires objects after
90 days (infra/resources.json). The payload is stored sealed under the event's order key
(domain/personal_data.py), as it travels in the queue.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from chalicelib.domain.model import OrderEvent
from chalicelib.domain.sealed import Sealed


def raw_key(event: OrderEvent) -> str:
    return raw_key_of(event.platform, event.store, event.event_key, event.received_at)


def raw_key_of(platform: str, store: str, event_key: str, received_at: datetime) -> str:
    """The key from what the trail keeps (platform, store, event key, receipt time)."""
    day = received_at.strftime("%Y/%m/%d")
    digest = hashlib.sha256(event_key.encode("utf-8")).hexdigest()[:40]
    return f"raw/{platform}/{store}/{day}/{digest}.json"


def raw_document(event: OrderEvent, raw: str | Sealed) -> dict[str, Any]:
    """What is stored: the payload with what identifies it. The payload holds personal data,
    so it is kept sealed (`raw_sealed`; `personal_data.open_raw_document` opens it, for a
    caller holding `decrypt`). Documents written before sealing existed hold `raw` in clear."""
    document: dict[str, Any] = {
        "event_key": event.event_key,
        "order_key": event.order_key,
        "received_at": event.received_at.isoformat(),
    }
    if isinstance(raw, Sealed):
        document["raw_sealed"] = raw.to_dict()
    else:
        document["raw"] = raw
    return document
