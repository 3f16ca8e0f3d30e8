"""Queue canonical events from any source (webhooks, the Amazon queue, the pull pollers): the
one way an event enters processing.

The trail's receipt is not written here: the queued message carries it (the event's platform,
store and receipt time; SQS adds the message id and its send time), and the processor records
it with the booking, in the same transaction (api/processor.py), or with a failed attempt.
The intake's only AWS requests are then the sealing (a cached data key) and the SendMessage.
An event still on the queue is counted by the queue's depth (conservation's `in flight`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from chalicelib.deps import Container
from chalicelib.domain.ingest import enqueue_events
from chalicelib.domain.model import OrderEvent
from chalicelib.domain.ports import StoreRules
from chalicelib.domain.tracking import TrackUpdate
from chalicelib.observability import logger


def queue_and_record(
    deps: Container,
    platform: str,
    store: str,
    events: Sequence[OrderEvent],
    raw: bytes | str,
    received_at: datetime,
    ack_ms: int = 0,
) -> tuple[str, ...]:
    """Queue `events` (each message carries the raw payload and its receipt; both sealed, with
    the store's rules for the address checks); returns the message ids. Raises if queuing (or
    sealing) fails: the caller must not confirm or acknowledge the source then (it will
    redeliver). `received_at` and `ack_ms` are logged; the trail takes them from the message."""
    configured = deps.catalog.get_store(platform, store)
    rules = configured.rules if configured is not None else StoreRules()
    message_ids = enqueue_events(events, raw, deps.queue, deps.personal_data, rules)
    logger().debug(
        "events queued",
        extra={"store": f"{platform}/{store}", "events": len(events), "ack_ms": ack_ms},
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
    `{"track": ...}` each; the processor records their receipts in the trail under
    `tracking/<provider>`. The checkpoints are scrubbed already and name no buyer, so nothing
    is sealed."""
    message_ids = []
    for update in updates:
        message = {"track": update.to_dict(), "event_key": update.event_key}
        message_ids.append(deps.queue.send(message, update.key))
    logger().debug(
        "track updates queued",
        extra={"updates": len(updates), "received_at": str(received_at), "ack_ms": ack_ms},
    )
    return tuple(message_ids)
