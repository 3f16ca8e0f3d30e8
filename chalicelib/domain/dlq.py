"""What an operator sees of a parked message, and which ones a replay takes. Pure."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
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


def describe(
    message: Mapping[str, Any], load: Callable[[str], Mapping[str, Any]] | None = None
) -> ParkedMessage:
    """Read a raw SQS message; unreadable bodies still show (their id is enough to act on).

    A message that overflowed to S3 is a pointer: its `event` summary (key, platform, store,
    order id: written beside the pointer since issue 12) names it; an older pointer without
    one is followed with `load` (`MessageLoader.load`) when given."""
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
        elif isinstance(body, dict) and body.get("overflow") and load is not None:
            found = load(str(message.get("Body", "")))
            event = found["event"] if isinstance(found.get("event"), dict) else {}
    except Exception:
        event = {}
    return ParkedMessage(
        message_id=str(message["MessageId"]),
        sent_at=sent,
        receive_count=int(attrs.get("ApproximateReceiveCount", 0)),
        platform=str(event.get("platform", "")),
        store=str(event.get("store", "")),
        order_id=str(event.get("order_id", "")),
        event_key=str(event.get("event_key", "")),
    )


def last_failure(trail: Mapping[str, Any] | None) -> str:
    """Why the event's last attempt failed, from its trail (`attempts`): the error class and
    the (scrubbed) message the processor recorded; "" when no attempt failed or no trail."""
    attempts = (trail or {}).get("attempts") or []
    failed = [a for a in attempts if isinstance(a, Mapping) and a.get("error_class")]
    if not failed:
        return ""
    last = failed[-1]
    error = f": {last['error']}" if last.get("error") else ""
    return (
        f"attempt {last.get('attempt', '?')} at {last.get('at', '?')}: {last['error_class']}{error}"
    )


def selected(parked: ParkedMessage, since: datetime | None, store: str | None) -> bool:
    """--since keeps messages sent at or after it; --store matches `store` or `platform/store`."""
    if since is not None and parked.sent_at < since:
        return False
    return not store or store in (parked.store, f"{parked.platform}/{parked.store}")
