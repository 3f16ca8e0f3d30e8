"""The order-event consumer: SQS batches in, one booking per record, a partial-batch response out.

A record that fails transiently is reported in `batchItemFailures` and its visibility set to
the backoff for its attempt, so it returns later and later; the queue's redrive policy parks it
in the DLQ after 5 receives. A permanent failure is recorded as rejected and not retried
(chalicelib/domain/delivery.py).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.adapters.deferred import deferred_imports
from chalicelib.api.intake import TRACKING_PLATFORM
from chalicelib.api.sqs_batch import partial_batch_response
from chalicelib.api.tracking import apply_track_message, read_track_message
from chalicelib.deps import Container, container
from chalicelib.domain.archive import (
    batch_member_key,
    batch_object_key,
    raw_document,
    raw_key,
)
from chalicelib.domain.delivery import (
    MAX_ATTEMPTS,
    InvalidMessage,
    backoff_seconds,
    is_permanent,
)
from chalicelib.domain.details import complete_thin_event
from chalicelib.domain.errors import AlreadyProcessed, UnknownStore
from chalicelib.domain.model import (
    BookingPlan,
    EventRecord,
    OrderEvent,
    Outcome,
    Receipt,
    TrailEntry,
)
from chalicelib.domain.personal_data import raw_of, seal_buyer, seal_event
from chalicelib.domain.ports import StoreRules
from chalicelib.domain.scrub import scrub_free_text
from chalicelib.domain.sealed import Sealed
from chalicelib.domain.skew import report_skew
from chalicelib.observability import logger, metrics

# Booking's domain modules come with the first batch (adapters/deferred.py), as do Powertools'
# batch utilities (api/sqs_batch.py): the API function imports this module only to register it.
if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from chalicelib.domain.booking import BookingContext
    from chalicelib.domain.processing import ProcessResult, process_order_event
else:
    globals().update(deferred_imports(__file__, "chalicelib.domain"))

# Must equal OrderEventsQueue's QueueName in infra/resources.json (a test checks).
ORDER_QUEUE_NAME = "orderhub-order-events"

# The outcomes that end an event's trail (STAGING is a commit in progress, never an answer).
# A duplicate delivery's attempt does not decide the event's outcome: the delivery that
# processed it did (and if that one's trail write was lost, check_pending_events repairs it
# from the event record). Counting duplicates as final would hide a booking as "settled".
FINAL_OUTCOMES = frozenset(
    o.value for o in Outcome if o not in (Outcome.STAGING, Outcome.DUPLICATE)
)

bp = Blueprint(__name__)


def read_message(body: str, deps: Container) -> tuple[OrderEvent, str | Sealed]:
    """The canonical event a queued message carries and its raw payload (sealed; plain text
    in a message queued before sealing existed); InvalidMessage if it cannot be read."""
    try:
        message = deps.loader.load(body)
        return OrderEvent.from_dict(message["event"]), raw_of(message)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidMessage(f"unreadable order message: {type(exc).__name__}: {exc}") from exc


def read_event(body: str, deps: Container) -> OrderEvent:
    return read_message(body, deps)[0]


@dataclass(frozen=True)
class Delivery:
    """What SQS says of one delivery of a message: the receipt's part of the trail."""

    message_id: str
    attempt: int
    sent_ms: int | None  # SentTimestamp: when the intake's SendMessage was accepted

    @classmethod
    def of(cls, record: SQSRecord) -> Delivery:
        sent = record.attributes.sent_timestamp
        return cls(
            record.message_id,
            int(record.attributes.approximate_receive_count or 1),
            int(sent) if sent and str(sent).isdigit() else None,
        )

    def receipt(self, event_key: str, platform: str, store: str, received_at: datetime) -> Receipt:
        ack = None
        if self.sent_ms is not None:
            ack = max(0, self.sent_ms - round(received_at.timestamp() * 1000))
        return Receipt(event_key, platform, store, received_at, ack, self.message_id)


def message_receipt(body: str, deps: Container, delivery: Delivery) -> Receipt:
    """The receipt a queued message carries (InvalidMessage if it cannot be read)."""
    track = read_track_message(body, deps)
    if track is not None:  # (an unreadable one is still recorded under its own key)
        update = track["track"] if isinstance(track["track"], dict) else {}
        try:
            received = datetime.fromisoformat(str(update["received_at"]))
        except (KeyError, ValueError):
            received = deps.now()
        provider = str(update.get("provider") or "")
        return delivery.receipt(str(track["event_key"]), TRACKING_PLATFORM, provider, received)
    event = read_event(body, deps)
    return delivery.receipt(event.event_key, event.platform, event.store, event.received_at)


def archive_batch(bodies: Sequence[str], deps: Container) -> dict[str, str]:
    """Keep the raw payloads of a batch's order events in one S3 object, before any of them is
    booked; returns where each event's is (event key -> `raw_key`). A message that cannot be
    read or sealed here, or a failed PUT, leaves its events to the per-event archive in
    `handle_order_message` (which fails their attempt if S3 still refuses)."""
    documents: dict[str, dict[str, Any]] = {}
    for body in bodies:
        try:
            if read_track_message(body, deps) is not None:
                continue
            event, raw = read_message(body, deps)
            if not isinstance(raw, Sealed):  # queued before sealing: sealed and kept alone
                continue
            store = deps.catalog.get_store(event.platform, event.store)
            rules = store.rules if store is not None else StoreRules()
            event, sealed_raw = seal_event(event, raw, deps.personal_data, rules)
        except Exception:  # handled (rejected, retried) by its own record's attempt
            continue
        documents[event.event_key] = raw_document(event, sealed_raw)
    if not documents:
        return {}
    object_key = batch_object_key(deps.now(), uuid.uuid4().hex)
    try:
        deps.raw_archive.keep_batch(object_key, documents)
    except Exception:
        logger().exception("batch raw archive not written; archiving per event")
        return {}
    return {key: batch_member_key(object_key, key) for key in documents}


def handle_order_message(
    body: str,
    deps: Container,
    delivery: Delivery | None = None,
    archived: Mapping[str, str] | None = None,
) -> ProcessResult:
    """Load one queued message and book its event (or apply its carrier-track update). With
    `delivery`, the event's trail is written in the booking's transaction; `archived` says
    where `archive_batch` kept raw payloads (others are kept here, one object each)."""
    track = read_track_message(body, deps)
    if track is not None:
        return ProcessResult(apply_track_message(track, deps), "", 1)
    event, raw = read_message(body, deps)
    store = deps.catalog.get_store(event.platform, event.store)
    # Intake sealed the buyer and the payload; a message queued before sealing existed (or a
    # replay of one) is sealed here, before anything of it is stored.
    event, sealed_raw = seal_event(
        event, raw, deps.personal_data, store.rules if store is not None else StoreRules()
    )
    # Kept before booking, so every booked event's payload can be looked at; a failed write
    # fails the attempt like any other AWS failure (retried with backoff, then the DLQ).
    raw_at = (archived or {}).get(event.event_key, "")
    if not raw_at:
        deps.raw_archive.keep(raw_key(event), raw_document(event, sealed_raw))
    log = logger()
    log.set_correlation_id(event.correlation_id)
    if store is None:
        raise UnknownStore(f"store {event.platform}/{event.store} is no longer configured")
    rules = store.rules
    resolve = None
    if rules.sku_mapping == "table":

        def resolve(channel_sku: str) -> str | None:
            return deps.catalog.resolve_sku(event.platform, event.store, channel_sku)

    def context() -> BookingContext:
        return BookingContext(deps.now(), deps.warehouses(), rules)

    # A thin event (ids only: BigCommerce) is fetched from its platform's API first; the
    # skew check below keeps the notification's own time, not the order's modification time.
    # The buyer the API returns is sealed before the booking can store it (one KMS call).
    full = seal_buyer(
        complete_thin_event(event, store, deps.order_details), deps.personal_data, rules
    )
    trail = None
    if delivery is not None:
        receipt = delivery.receipt(event.event_key, event.platform, event.store, event.received_at)
        trail = TrailEntry(replace(receipt, raw_key=raw_at), delivery.attempt, deps.now())
    result = process_order_event(full, deps.orders, context, resolve, trail)
    lag = (deps.now() - event.received_at).total_seconds()
    log.info(
        "order event processed",
        extra={
            "event_key": event.event_key,
            "outcome": result.outcome.value,
            "reason": result.reason,
            "attempts": result.attempts,
            "lag_seconds": lag,
        },
    )
    collected = metrics()
    collected.add_metric(name=f"Outcome_{result.outcome.value}", unit="Count", value=1)
    collected.add_metric(name="WebhookToBookedSeconds", unit="Seconds", value=lag)
    skew = report_skew(event, result.outcome, deps.orders, deps.now())
    if skew is not None:  # processed anyway; the store's P2 anomaly counts it
        collected.add_metric(name="ClockSkewEvents", unit="Count", value=1)
        log.warning(
            "event time skewed from our clock",
            extra={"event_key": event.event_key, "skew_seconds": round(skew.seconds)},
        )
    return result


def record_rejection(
    deps: Container, key: str, order: str, reason: str, cause: str = "permanent failure"
) -> None:
    """Commit a `rejected_invalid` event record with its reason, once (a redelivery finds it).
    Shared by every consumer that refuses a message for good (api/amazon.py too)."""
    plan = BookingPlan(
        EventRecord(key, order, Outcome.REJECTED_INVALID, reason, deps.now(), cause=cause), None, 0
    )
    with contextlib.suppress(AlreadyProcessed):
        deps.orders.commit(plan)


def reject_message(record: SQSRecord, exc: Exception, deps: Container) -> str:
    """Record a permanent failure with its reason, once; the message is then deleted."""
    track = read_track_message(record.body, deps)
    try:
        if track is not None:  # a carrier-track update: its own key closes its trail
            key, order = str(track["event_key"]), ""
        else:
            event = read_event(record.body, deps)
            key, order = event.event_key, event.order_key
    except (InvalidMessage, KeyError):
        key, order = f"invalid#{record.message_id}", ""
    reason = getattr(exc, "message", str(exc))
    record_rejection(deps, key, order, reason)
    logger().warning("order message rejected", extra={"event_key": key, "reason": reason})
    metrics().add_metric(name="MessagesRejectedPermanently", unit="Count", value=1)
    return Outcome.REJECTED_INVALID.value


def schedule_retry(record: SQSRecord, exc: Exception, deps: Container) -> None:
    """Back off before the next attempt: visibility = base x 2^(attempt-1), capped."""
    attempt = int(record.attributes.approximate_receive_count or 1)
    # After the last attempt the next receive moves it to the DLQ: no point waiting for that.
    delay = (
        0 if attempt >= MAX_ATTEMPTS else backoff_seconds(attempt, deps.settings.retry_base_seconds)
    )
    try:
        deps.visibility.delay(record.receipt_handle, delay)
    except Exception:  # the queue's own visibility timeout still retries it
        logger().exception("could not set the retry delay")
    logger().warning(
        "order message failed; will retry",
        extra={
            "attempt": attempt,
            "max_attempts": MAX_ATTEMPTS,
            "retry_in_seconds": delay,
            "error_class": type(exc).__name__,
            "error": str(exc)[:300],
        },
    )
    metrics().add_metric(name="MessageRetriesScheduled", unit="Count", value=1)


def track_attempt(
    record: SQSRecord,
    deps: Container,
    outcome: str | None = None,
    error_class: str | None = None,
    error: str | None = None,
) -> None:
    """Append this attempt, with the receipt its message carries, to the event's trail (final
    outcomes close it): for what the booking's transaction did not write (a failure, a
    rejection, a duplicate, a carrier-track update). Never raises: the booking is committed
    already, and the pending-events job repairs a trail left open."""
    delivery = Delivery.of(record)
    try:
        receipt = message_receipt(record.body, deps, delivery)
        final = outcome in FINAL_OUTCOMES
        reason = scrub_free_text(error)[:300] if error else None  # for `dlq show`: short
        deps.trail.record_attempt(
            receipt.event_key,
            deps.now(),
            delivery.attempt,
            outcome,
            error_class,
            final,
            error=reason,
            receipt=receipt,
        )
    except InvalidMessage:
        return  # no event key, so no trail (the rejection is in the events table)
    except Exception:
        logger().exception("trail attempt not recorded", extra={"message_id": record.message_id})
        metrics().add_metric(name="TrailWriteFailures", unit="Count", value=1)


# Batches of 20 gathered for up to 1 s (Lambda's minimum window above 10 on a standard queue):
# the per-batch requests (receive, delete, raw-archive PUT, nudges and the push run they start)
# are shared by twice the events at load; thin traffic waits up to the window (docs/performance.md
# "Request diet"). The function's timeout covers 20 thin events' fetches, the order queue's
# visibility six times that (.chalice/config.json, infra/resources.json; a test checks both).
ORDER_BATCH_SIZE = 20
ORDER_BATCHING_WINDOW_SECONDS = 1


@bp.on_sqs_message(
    queue=ORDER_QUEUE_NAME,
    batch_size=ORDER_BATCH_SIZE,
    maximum_batching_window_in_seconds=ORDER_BATCHING_WINDOW_SECONDS,
)
def handle_order_events(event: Any) -> dict[str, Any]:
    deps = container()

    records = event.to_dict().get("Records") or []
    archived = archive_batch([str(r.get("body") or "") for r in records], deps)

    def record_handler(record: SQSRecord) -> str:
        try:
            result = handle_order_message(record.body, deps, Delivery.of(record), archived)
        except Exception as exc:
            if is_permanent(exc):
                outcome = reject_message(record, exc, deps)
                track_attempt(record, deps, outcome=outcome)
                return outcome
            # the trail first: the backoff starts when the visibility is set
            track_attempt(record, deps, error_class=type(exc).__name__, error=str(exc))
            schedule_retry(record, exc, deps)
            raise
        if result.plan is None or result.plan.trail is None:  # not written with the booking
            track_attempt(record, deps, outcome=result.outcome.value)
        return result.outcome.value

    # the batch's stock nudges leave together at its end (adapters/stock_nudge.py)
    deferred = getattr(deps.orders, "nudges_deferred", contextlib.nullcontext)
    with deferred():
        return partial_batch_response(event, record_handler)
