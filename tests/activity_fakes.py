"""In-memory fakes of the carrier-track store, the order-activity store and the tracking
providers (domain/tracking.py, domain/order_notes.py); the contract suite in
tests/integration/test_activity_contract.py runs the same checks against the DynamoDB ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.order_notes import OrderNote, PickList, ReviewNote
from chalicelib.domain.tracking import (
    FINISHED,
    PENDING,
    Subscription,
    Track,
    TrackUpdate,
)


class FakeTracks:
    def __init__(self) -> None:
        self.items: dict[str, Track] = {}
        self.versions: dict[str, str] = {}

    def subscribe(self, subscription: Subscription, now: datetime) -> bool:
        if subscription.key in self.items:
            return False
        self.items[subscription.key] = Track(
            subscription.key,
            subscription.order_key,
            subscription.carrier,
            subscription.number,
            subscription.provider,
            PENDING,
            subscription.shipped_at,
            False,
            confirmation_id=subscription.confirmation_id,
        )
        self.versions[subscription.key] = "0"
        return True

    def mark_subscribed(self, key: str, ok: bool, now: datetime) -> None:
        if key in self.items:
            self.items[key] = replace(self.items[key], subscribed=ok, updated_at=now)

    def apply(self, update: TrackUpdate) -> bool:
        track = self.items.get(update.key)
        if track is None or not self.versions[update.key] < update.version:
            return False
        self.versions[update.key] = update.version
        self.items[update.key] = replace(
            track,
            state=update.state,
            checkpoints=update.checkpoints,
            last_event_at=update.last_at or track.last_event_at,
            updated_at=update.received_at,
            provider_status=update.provider_status,
            subscribed=True,
        )
        return True

    def get(self, key: str) -> Track | None:
        return self.items.get(key)

    def for_order(self, order_key: str) -> list[Track]:
        return sorted(
            (t for t in self.items.values() if t.order_key == order_key),
            key=lambda t: t.subscribed_at,
        )

    def silent(self, before: datetime, limit: int = 500) -> list[Track]:
        found = [
            t for t in self.items.values() if t.state not in FINISHED and t.quiet_since <= before
        ]
        return sorted(found, key=lambda t: t.quiet_since)[:limit]

    def unsubscribed(self, limit: int = 100) -> list[Track]:
        return [t for t in self.items.values() if not t.subscribed and t.state not in FINISHED][
            :limit
        ]


class FakeOrderActivity:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.reviews: dict[tuple[str, str], ReviewNote] = {}

    def add_note(self, note: OrderNote) -> bool:
        key = (note.order_key, f"note#{note.note_id}")
        if key in self.rows:
            return False
        self.rows[key] = {
            "kind": "note",
            "at": note.at.astimezone(UTC).isoformat(),
            "author": note.author,
            "role": note.role,
            "text": note.text,
            "note_id": note.note_id,
        }
        return True

    def record_pick(self, pick: PickList, order_key: str) -> bool:
        key = (order_key, f"pick#{pick.pick_list_id}")
        if key in self.rows:
            return False
        row = {
            "kind": "pick_list",
            "at": pick.printed_at.astimezone(UTC).isoformat(),
            "pick_list_id": pick.pick_list_id,
        }
        if pick.warehouse:
            row["warehouse"] = pick.warehouse
        self.rows[key] = row
        self.rows.setdefault((order_key, "picked"), {"kind": "picked"})
        return True

    def picked(self, order_keys: Sequence[str]) -> set[str]:
        return {k for k in order_keys if (k, "picked") in self.rows}

    def entries(self, order_key: str, limit: int = 200) -> list[Mapping[str, Any]]:
        found = [
            row
            for (subject, _), row in self.rows.items()
            if subject == order_key and row["kind"] in ("note", "pick_list")
        ]
        return sorted(found, key=lambda r: r["at"])[:limit]

    def save_review_note(self, note: ReviewNote) -> None:
        self.reviews[(note.month, note.rule)] = note

    def review_notes(self, month: str) -> list[ReviewNote]:
        return [n for (m, _), n in self.reviews.items() if m == month]


class FakeTrackingProvider:
    """Records subscriptions; answers queries with what a test plants; can fail."""

    def __init__(self) -> None:
        self.subscribed: list[tuple[str, str]] = []
        self.answers: dict[tuple[str, str], TrackUpdate] = {}
        self.down = False

    def subscribe(self, carrier: str, number: str) -> None:
        from chalicelib.adapters.tracking_clients import TrackingUnavailable

        if self.down:
            raise TrackingUnavailable("provider down")
        self.subscribed.append((carrier, number))

    def query(self, carrier: str, number: str, now: datetime) -> TrackUpdate | None:
        from chalicelib.adapters.tracking_clients import TrackingUnavailable

        if self.down:
            raise TrackingUnavailable("provider down")
        return self.answers.get((carrier, number))
