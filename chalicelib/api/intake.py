"""Queue canonical events from any source (webhooks, the Amazon queue, the pull pollers) and
record each one's receipt in the trail: the one way an event enters processing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chalicelib.deps import Container
from chalicelib.domain.ingest import enqueue_events
from chalicelib.domain.model import OrderEvent
from chalicelib.domain.ports import StoreRules
from chalicelib.domain.tracking import TrackUpdate
from chalicelib.observability import logger, metrics


def record_receipts(
    deps: Container,
    platform: str,
    store: str,
    received_at: datetime,
    ack_ms: int,
    event_keys: Sequence[str],
    message_ids: Sequence[str],
) -> None:
    """One trail receipt per queued event. A failed write never fails the intake: the event is
    queued, so it will be booked; its trail lacks the receipt and the metric says so."""
    for event_key, message_id in zip(event_keys, message_ids, strict=True):
        try:
            deps.trail.record_receipt(event_key, platform, store, received_at, ack_ms, message_id)
        except Exception:
            logger().exception("trail receipt not recorded", extra={"event_key": event_key})
            metrics().add_metric(name="TrailWriteFailures", unit="Count", value=1)


def queue_and_record(
    deps: Container,
    platform: str,
    store: str,
    events: Sequence[OrderEvent],
    raw: bytes | str,
    received_at: datetime,
    ack_ms: int = 0,
) -> tuple[str, ...]:
    """Queue `events` (each message carries the raw payload; both sealed, with the store's
    rules for the address checks) and record their receipts; returns the message ids. Raises
    if queuing (or sealing) fails: the caller must not confirm or acknowledge the source then
    (it will redeliver)."""
    configured = deps.catalog.get_store(platform, store)
    rules = configured.rules if configured is not None else StoreRules()
    message_ids = enqueue_events(events, raw, deps.queue, deps.personal_data, rules)
    record_receipts(
        deps, platform, store, received_at, ack_ms, [e.event_key for e in events], message_ids
    )
    return message_ids


TRACKING_PLATFORM = "tracking"  # the trail's platform for carrier-track events


def queue_track_updates(
    deps: Container,
    updates: Sequence[TrackUpdate],
    received_at: datetime,
    ack_ms: int = 0,
) -> tuple[str, ...]:
    """Queue carrier-track updates (domain/tracking.py) for the order processor, one message
    `{"track": ...}` each, and record their receipts in the trail under `tracking/<provider>`.
    The checkpoints are scrubbed already and name no buyer, so nothing is sealed."""
    message_ids = []
    for update in updates:
        message = {"track": update.to_dict(), "event_key": update.event_key}
        message_ids.append(deps.queue.send(message, update.key))
    for update, message_id in zip(updates, message_ids, strict=True):
        record_receipts(
            deps,
            TRACKING_PLATFORM,
            update.provider,
            received_at,
            ack_ms,
            [update.event_key],
            [message_id],
        )
    return tuple(message_ids)
