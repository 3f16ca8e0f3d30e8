"""AfterShip tracking webhooks: verify and read one. Pure Python.

AfterShip signs each webhook with `aftership-hmac-sha256` = base64 HMAC-SHA256(webhook secret,
raw body). The body is JSON: `{event: "tracking_update", event_id, is_tracking_first_tag, ts,
msg: <the tracking>}`, the tracking holding `id`, `tracking_number`, `slug` (the carrier's
code), `tag` (Pending, InfoReceived, InTransit, OutForDelivery, AttemptFail, Delivered,
AvailableForPickup, Exception, Expired) and `checkpoints`: `[{checkpoint_time, message, tag,
location, ...}]`, oldest first, times ISO 8601 with the carrier's local offset.

Subscribing is `POST /trackings` with `{tracking: {slug, tracking_number}}` and the
`as-api-key` header; the poll backup is `GET /trackings/{slug}/{tracking_number}`, whose
`data.tracking` has the same shape as `msg`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.bounds import check_json_depth
from chalicelib.domain.errors import InvalidPayload, InvalidSignature
from chalicelib.domain.scrub import scrub_personal_data
from chalicelib.domain.timeutil import parse_aware
from chalicelib.domain.tracking import (
    AFTERSHIP,
    DELIVERED,
    EXCEPTION,
    IN_TRANSIT,
    MAX_CHECKPOINT_TEXT,
    PENDING,
    RETURNED,
    Checkpoint,
    TrackUpdate,
    newest_first_to_oldest,
)

SIGNATURE_HEADER = "aftership-hmac-sha256"
TAGS = {
    "Pending": PENDING,
    "InfoReceived": PENDING,
    "InTransit": IN_TRANSIT,
    "OutForDelivery": IN_TRANSIT,
    "AttemptFail": EXCEPTION,
    "AvailableForPickup": IN_TRANSIT,
    "Delivered": DELIVERED,
    "Exception": EXCEPTION,
    "Expired": EXCEPTION,
    "ReturnToSender": RETURNED,
}


def sign_aftership(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_aftership(body: bytes, offered: str, secrets: Sequence[str]) -> None:
    if not offered.strip():
        raise InvalidSignature(f"{SIGNATURE_HEADER} header is missing")
    candidate = offered.strip().encode("ascii", "replace")
    if not any(
        hmac.compare_digest(sign_aftership(s, body).encode("ascii"), candidate) for s in secrets
    ):
        raise InvalidSignature(f"{SIGNATURE_HEADER} does not match the body")


def read_tracking(tracking: Mapping[str, Any], received_at: datetime, via: str) -> TrackUpdate:
    slug = str(tracking.get("slug") or "").strip().lower()
    number = str(tracking.get("tracking_number") or "").strip().upper()
    if not slug or not number:
        raise InvalidPayload("msg.slug and msg.tracking_number are required")
    found = []
    rows = tracking.get("checkpoints")
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        if not isinstance(row, Mapping):
            raise InvalidPayload(f"msg.checkpoints[{i}] must be an object")
        try:
            at = parse_aware(str(row.get("checkpoint_time") or ""))
        except ValueError as exc:
            raise InvalidPayload(f"msg.checkpoints[{i}].checkpoint_time: {exc}") from None
        text = scrub_personal_data(str(row.get("message") or ""))[:MAX_CHECKPOINT_TEXT]
        location = str(row.get("location") or row.get("city") or "")
        found.append(Checkpoint(at, text, str(row.get("tag") or ""), location))
    tag = str(tracking.get("tag") or "")
    return TrackUpdate(
        AFTERSHIP,
        slug,
        number,
        TAGS.get(tag, IN_TRANSIT if found else PENDING),
        newest_first_to_oldest(found),
        received_at,
        tag,
        via,
    )


def parse_aftership(body: bytes, received_at: datetime) -> TrackUpdate | None:
    """The update of a verified webhook; None for events that are not tracking updates."""
    check_json_depth(body)  # nesting limited before parsing (domain/bounds.py)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, Mapping):
        raise InvalidPayload("body must be a JSON object")
    if payload.get("event") not in (None, "tracking_update"):
        return None
    msg = payload.get("msg")
    if not isinstance(msg, Mapping):
        raise InvalidPayload("msg is required (the tracking)")
    return read_tracking(msg, received_at, "push")
