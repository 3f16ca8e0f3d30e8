"""The Amazon SP-API notifications consumer: our queue in, canonical events onto the order queue.

Amazon writes ORDER_CHANGE notifications into `orderhub-amazon-notifications` (the queue
policy is the trust, see chalicelib/channels/amazon.py). Per record: parse the notification,
find the store (its id is the `SellerId`), then `queue_and_record` exactly as a webhook does,
so booking, dedupe (the event key carries the `NotificationId`), retries, the DLQ and the
trail are the order queue's. The queued event is thin (the notification has no prices): the
processor fetches the order through SP-API's Orders API before booking it
(adapters/amazon_orders.py); orders whose notification never came are found by the backup
poll (api/amazon_poll.py).

Failures, per record (Powertools BatchProcessor, partial batch response):
- permanent (a body that is not a valid notification, a SellerId with no store): recorded
  as a `rejected_invalid` event record with the reason (key `invalid#amazon#<NotificationId>`,
  or `invalid#amazon#sqs-<message id>` when the body has none), logged and counted
  (`AmazonNotificationsRejected`), and deleted: retrying cannot help. The record is not
  written under the event's own key, so the same notification replayed once the store
  exists still books;
- transient (the order queue or the catalog unreachable): reported in `batchItemFailures`;
  the message returns after the queue's visibility timeout (720 s) and after 5 receives is
  parked in `orderhub-amazon-notifications-dlq` (alarm `...-dlq-not-empty`).
Notification types other than ORDER_CHANGE, and Fulfilled-by-Amazon orders, are logged,
counted (`AmazonNotificationsIgnored`) and deleted.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.api.intake import queue_and_record
from chalicelib.api.processor import record_rejection
from chalicelib.api.sqs_batch import partial_batch_response
from chalicelib.channels.after_sales_platforms import amazon_after_sales
from chalicelib.channels.amazon import PLATFORM, parse_amazon_notification
from chalicelib.deps import Container, container
from chalicelib.domain.after_sales import record_after_sales
from chalicelib.domain.bounds import check_json_depth
from chalicelib.domain.errors import InvalidPayload, UnknownStore
from chalicelib.domain.model import order_key
from chalicelib.observability import logger, metrics

if TYPE_CHECKING:  # Powertools' batch utilities come with the first batch (api/sqs_batch.py)
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# Must equal AmazonNotificationsQueue's QueueName in infra/resources.json (a test checks).
AMAZON_QUEUE_NAME = "orderhub-amazon-notifications"

QUEUED, IGNORED, REJECTED = "queued", "ignored", "rejected"
PERMANENT = (InvalidPayload, UnknownStore)

bp = Blueprint(__name__)


def received_time(record: SQSRecord, deps: Container) -> datetime:
    """When the notification reached our queue (SQS `SentTimestamp`, ms), else now."""
    try:
        return datetime.fromtimestamp(int(record.attributes.sent_timestamp) / 1000, tz=UTC)
    except (KeyError, TypeError, ValueError):
        return deps.now()


def handle_amazon_notification(body: str, received_at: datetime, deps: Container) -> str:
    """Queue one notification's event for booking; returns QUEUED or IGNORED.

    Raises InvalidPayload / UnknownStore (permanent) or anything else (transient)."""
    started = time.monotonic()
    notification = parse_amazon_notification(body, received_at)
    log = logger()
    event = notification.event
    if event is None:
        log.info(
            "amazon notification ignored",
            extra={
                "notification_id": notification.notification_id,
                "notification_type": notification.notification_type,
                "reason": notification.ignored,
            },
        )
        metrics().add_metric(name="AmazonNotificationsIgnored", unit="Count", value=1)
        return IGNORED
    log.set_correlation_id(event.correlation_id)
    store = deps.catalog.get_store(PLATFORM, event.store)
    if store is None:
        raise UnknownStore(
            f"no Amazon store '{event.store}' (the notification's SellerId) in the catalog: "
            f"add store amazon/{event.store} (its store id is the SellerId), then resend "
            f"notification {notification.notification_id} or let the next ORDER_CHANGE of "
            f"order {event.order_id} bring it"
        )
    ack_ms = int((time.monotonic() - started) * 1000)
    # a buyer's cancellation request, or its answer (channels/after_sales_platforms.py)
    record_after_sales(amazon_after_sales(body, store), deps.after_sales)
    queue_and_record(deps, PLATFORM, store.store_id, [event], body, received_at, ack_ms)
    log.info(
        "amazon notification queued",
        extra={"event_key": event.event_key, "status": event.status.value},
    )
    metrics().add_metric(name="AmazonNotificationsQueued", unit="Count", value=1)
    return QUEUED


def _identify(body: str, message_id: str) -> tuple[str, str]:
    """Best-effort rejection key and order key of a notification that could not be queued."""
    try:
        check_json_depth(body)
        document = json.loads(body)
        notification_id = document["NotificationMetadata"]["NotificationId"]
        change = (document.get("Payload") or {}).get("OrderChangeNotification") or {}
        seller, order_id = change.get("SellerId"), change.get("AmazonOrderId")
    except (ValueError, TypeError, KeyError, AttributeError, InvalidPayload):
        return f"invalid#{PLATFORM}#sqs-{message_id}", ""
    if not isinstance(notification_id, str) or not notification_id.strip():
        return f"invalid#{PLATFORM}#sqs-{message_id}", ""
    order = (
        order_key(PLATFORM, seller, order_id)
        if isinstance(seller, str) and isinstance(order_id, str) and seller and order_id
        else ""
    )
    return f"invalid#{PLATFORM}#{notification_id.strip()}", order


def reject_notification(record: SQSRecord, exc: Exception, deps: Container) -> str:
    """Record a notification refused for good with its reason; the message is then deleted."""
    key, order = _identify(record.body, record.message_id)
    reason = getattr(exc, "message", str(exc))
    record_rejection(deps, key, order, reason, cause="amazon notification refused")
    logger().warning(
        "amazon notification rejected",
        extra={"event_key": key, "order_key": order, "reason": reason},
    )
    metrics().add_metric(name="AmazonNotificationsRejected", unit="Count", value=1)
    return REJECTED


@bp.on_sqs_message(queue=AMAZON_QUEUE_NAME, batch_size=10)
def handle_amazon_notifications(event: Any) -> dict[str, Any]:
    deps = container()

    def record_handler(record: SQSRecord) -> str:
        try:
            return handle_amazon_notification(record.body, received_time(record, deps), deps)
        except PERMANENT as exc:
            return reject_notification(record, exc, deps)
        except Exception as exc:
            logger().warning(
                "amazon notification failed; will retry",
                extra={
                    "message_id": record.message_id,
                    "error_class": type(exc).__name__,
                    "error": str(exc)[:300],
                },
            )
            metrics().add_metric(name="AmazonNotificationRetries", unit="Count", value=1)
            raise

    return partial_batch_response(event, record_handler)
