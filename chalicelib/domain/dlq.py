"""What an operator sees of a parked message, and which ones a replay takes. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class ParkedMessage:
    message_id: str
    sent_at: datetime
    receive_count: int
    platform: str
    store: str
    order_id: str
    event_key: str

    @property
    def summary(self) -> str:
        return (
            f"{self.message_id}  {self.sent_at:%Y-%m-%d %H:%M:%S}Z  tries {self.receive_count}"
            f"  {self.platform}/{self.store}  order {self.order_id or '?'}  {self.event_key}"
        )


def describe(message: Mapping[str, Any]) -> ParkedMessage:
    """Read a raw SQS message; unreadable bodies still show (their id is enough to act on)."""
    attrs = message.get("Attributes") or {}
    sent = datetime.fromtimestamp(int(attrs.get("SentTimestamp", 0)) / 1000, tz=UTC)
    event: dict[str, Any] = {}
    try:
        body = json.loads(message.get("Body", ""))
        if isinstance(body, dict) and isinstance(body.get("event"), dict):
            event = body["event"]
        elif isinstance(body, dict) and isinstance(body.get("track"), dict):  # a carrier track
            track = body["track"]
            event = {
                "platform": "tracking",
                "store": track.get("provider", ""),
                "order_id": f"{track.get('carrier', '')} {track.get('number', '')}",
                "event_key": body.get("event_key", ""),
            }
    except ValueError:
        pass
    return ParkedMessage(
        message_id=str(message["MessageId"]),
        sent_at=sent,
        receive_count=int(attrs.get("ApproximateReceiveCount", 0)),
        platform=str(event.get("platform", "")),
        store=str(event.get("store", "")),
        order_id=str(event.get("order_id", "")),
        event_key=str(event.get("event_key", "")),
    )


def selected(parked: ParkedMessage, since: datetime | None, store: str | None) -> bool:
    """--since keeps messages sent at or after it; --store matches `store` or `platform/store`."""
    if since is not None and parked.sent_at < since:
        return False
    return not store or store in (parked.store, f"{parked.platform}/{parked.store}")
