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

Batches: the order processor keeps a whole SQS batch's payloads in one object (one PUT per
batch, not per event):

    raw/batch/<YYYY>/<MM>/<DD>/<HH>/<batch id>.json   {"v": 1, "events": {<member>: <document>}}

where <member> is the same 40-hex digest of the event key. The event's trail records where
(`raw_key`: `<object key>#<member>`, written with the booking), so `raw_location` finds a
batched payload from the trail, and an older event's from its derived key as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.domain.model import OrderEvent
from chalicelib.domain.sealed import Sealed


def raw_key(event: OrderEvent) -> str:
    return raw_key_of(event.platform, event.store, event.event_key, event.received_at)


def raw_key_of(platform: str, store: str, event_key: str, received_at: datetime) -> str:
    """The key from what the trail keeps (platform, store, event key, receipt time)."""
    day = received_at.strftime("%Y/%m/%d")
    return f"raw/{platform}/{store}/{day}/{member_id(event_key)}.json"


BATCH_PREFIX = "raw/batch/"
MEMBER_SEPARATOR = "#"


def member_id(event_key: str) -> str:
    return hashlib.sha256(event_key.encode("utf-8")).hexdigest()[:40]


def batch_object_key(at: datetime, batch_id: str) -> str:
    """One processor batch's object."""
    return f"{BATCH_PREFIX}{at.strftime('%Y/%m/%d/%H')}/{batch_id}.json"


def batch_member_key(object_key: str, event_key: str) -> str:
    """Where one event's payload is in a batch object: what its trail keeps as `raw_key`."""
    return f"{object_key}{MEMBER_SEPARATOR}{member_id(event_key)}"


def split_archive_key(key: str) -> tuple[str, str | None]:
    """(object key, member in a batch object, or None for a per-event object)."""
    if key.startswith(BATCH_PREFIX) and MEMBER_SEPARATOR in key:
        object_key, _, member = key.rpartition(MEMBER_SEPARATOR)
        return object_key, member
    return key, None


def batch_document(documents: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A batch object's content from each event key's document."""
    return {"v": 1, "events": {member_id(k): dict(d) for k, d in documents.items()}}


def batch_member(document: Mapping[str, Any], member: str) -> dict[str, Any] | None:
    found = (document.get("events") or {}).get(member)
    return dict(found) if isinstance(found, Mapping) else None


def raw_location(trail: Mapping[str, Any], received_at: datetime) -> str:
    """Where an event's payload is: the batch member its trail names, else the per-event key
    (events archived before batches)."""
    named = trail.get("raw_key")
    if named:
        return str(named)
    return raw_key_of(
        str(trail["platform"]), str(trail["store"]), str(trail["event_key"]), received_at
    )


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
