"""The order-event consumer: SQS batches in, one booking per record, a partial-batch response out.

A record that fails transiently is reported in `batchItemFailures` and its visibility set to
the backoff for its attempt, so it returns later and later; the queue's redrive policy parks it
in the DLQ after 5 receives. A permanent failure is recorded as rejected and not retried
(chalicelib/domain/delivery.py).
"""

from __future__ import annotations

import contextlib
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.api.tracking import apply_track_message, read_track_message
from chalicelib.deps import Container, container
from chalicelib.domain.archive import raw_document, raw_key
from chalicelib.domain.booking import BookingContext
from chalicelib.domain.delivery import (
    MAX_ATTEMPTS,
    InvalidMessage,
    backoff_seconds,
    is_permanent,
)
from chalicelib.domain.details import complete_thin_event
from chalicelib.domain.errors import AlreadyProcessed, UnknownStore
from chalicelib.domain.model import BookingPlan, EventRecord, OrderEvent, Outcome
from chalicelib.domain.personal_data import raw_of, seal_buyer, seal_event
from chalicelib.domain.ports import StoreRules
from chalicelib.domain.processing import ProcessResult, process_order_event
from chalicelib.domain.scrub import scrub_free_text
from chalicelib.domain.sealed import Sealed
from chalicelib.domain.skew import report_skew
from chalicelib.observability import logger, metrics

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


def message_key(body: str, deps: Container) -> str:
    """The event key of a queued message: a carrier-track update's, or an order event's."""
    track = read_track_message(body, deps)
    return str(track["event_key"]) if track is not None else read_event(body, deps).event_key


def handle_order_message(body: str, deps: Container) -> ProcessResult:
    """Load one queued message and book its event (or apply its carrier-track update)."""
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
    result = process_order_event(full, deps.orders, context, resolve)
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
    """Append this attempt to the event's trail (final outcomes close it). Never raises: the
    booking is committed already, and the pending-events job repairs a trail left open."""
    attempt = int(record.attributes.approximate_receive_count or 1)
    try:
        event_key = message_key(record.body, deps)
        final = outcome in FINAL_OUTCOMES
        if error:  # why it failed, for `dlq show`: scrubbed, short
            reason = scrub_free_text(error)[:300]
            deps.trail.record_attempt(
                event_key, deps.now(), attempt, outcome, error_class, final, error=reason
            )
        else:
            deps.trail.record_attempt(event_key, deps.now(), attempt, outcome, error_class, final)
    except InvalidMessage:
        return  # no event key, so no trail (the rejection is in the events table)
    except Exception:
        logger().exception("trail attempt not recorded", extra={"message_id": record.message_id})
        metrics().add_metric(name="TrailWriteFailures", unit="Count", value=1)


@bp.on_sqs_message(queue=ORDER_QUEUE_NAME, batch_size=10)
def handle_order_events(event: Any) -> dict[str, Any]:
    deps = container()

    def record_handler(record: SQSRecord) -> str:
        try:
            outcome = handle_order_message(record.body, deps).outcome.value
        except Exception as exc:
            if is_permanent(exc):
                outcome = reject_message(record, exc, deps)
                track_attempt(record, deps, outcome=outcome)
                return outcome
            # the trail first: the backoff starts when the visibility is set
            track_attempt(record, deps, error_class=type(exc).__name__, error=str(exc))
            schedule_retry(record, exc, deps)
            raise
        track_attempt(record, deps, outcome=outcome)
        return outcome

    return dict(
        process_partial_response(
            event=event.to_dict(),
            record_handler=record_handler,
            processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
            context=event.context,
        )
    )
