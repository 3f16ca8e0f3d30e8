"""Queue canonical events from any source (webhooks, the Amazon queue, the pull pollers) and
record each one's receipt in the trail: the one way an event enters processing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chalicelib.deps import Container
from chalicelib.domain.ingest import enqueue_events
from chalicelib.domain.model import OrderEvent
from chalicelib.domain.ports import StoreRules
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
