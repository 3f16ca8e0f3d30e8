"""Amazon SP-API ORDER_CHANGE notifications, read from our SQS queue. Pure Python.

Transport and trust
    Amazon writes notifications into our queue `orderhub-amazon-notifications`; the queue
    policy lets only Amazon's SP-API notifications account (437568002678) send to it, so the
    policy is the trust: there is no signature to verify. This is not a webhook channel: it is
    not in `CHANNELS`, and `POST /webhooks/amazon/...` answers 404. The consumer is
    `chalicelib/api/amazon.py`; the body of each SQS message is one notification (JSON).

Store
    OrderHub's Amazon store id IS the notification's `SellerId` (the merchant token): the
    store is `catalog.get_store("amazon", SellerId)`. One store per seller account, whatever
    the marketplace (`MarketplaceId` is not part of the key). A notification for a SellerId
    with no store is refused for good by the consumer (recorded with its reason).

Dedupe
    The event key is `amazon#{SellerId}#{NotificationId}`, and `platform_event_id` is the
    `NotificationId`: SQS delivers at least once and Amazon may resend, and the same
    notification again is recognised by the processor's event record and books nothing.

Types
    Booked: `NotificationType` ORDER_CHANGE. Every other type (ANY_OFFER_CHANGED,
    REPORT_PROCESSING_FINISHED, ... sent to the same destination) is ignored: logged, counted
    and deleted, nothing queued. ORDER_CHANGE notifications of Fulfilled-by-Amazon orders
    (`Summary.FulfillmentType` AFN) are ignored too: Amazon ships them from its own stock, so
    they must not hold stock in our warehouses (nothing would ever release it; see
    `BOOKED_FULFILLMENT`).

Payload -> canonical event
    - order id: `AmazonOrderId`.
    - status, from `Summary.OrderStatus`: Pending (placed, payment not authorized) and
      PendingAvailability (a pre-order, payment not authorized) -> unpaid (reserved until the
      store's reservation timeout; the payment that follows books it again); Unshipped and
      PartiallyShipped -> paid (locked; our WMS confirms what ships); Shipped and
      InvoiceUnconfirmed (everything shipped, invoice not yet confirmed) -> shipped;
      Canceled and Unfulfillable (cannot be fulfilled, Multi-Channel Fulfillment) ->
      cancelled (released; final). Another value -> InvalidPayload naming the field.
    - time: `OrderChangeTrigger.TimeOfOrderChange`, which the schema allows to be null ("no
      related timestamp"); then the notification's `EventTime`. Amazon stamps both in UTC
      ISO-8601 with `Z`; an offset is honoured, and a time without one is read as UTC, never
      in the store's or the server's zone (the seed incident: UTC Amazon times read as GMT+8
      were judged "in the future" and dropped). The original text is kept.
    - lines, amounts, currency: not from the notification. It carries no prices, and an
      `OrderItemLevel` notification only the changed item, so every ORDER_CHANGE is queued
      as a thin event (`complete=False`, no lines): before booking, the processor fetches
      the order and its items through the Orders API (getOrder + getOrderItems,
      channels/amazon_orders.py, adapters/amazon_orders.py; domain/details.py), and the
      order is booked as Amazon holds it then: status and `LastUpdateDate` from getOrder,
      lines per `SellerSKU` with tax-inclusive unit prices and the currency from its items.
      An order Amazon does not know is refused with the reason; an Orders API that cannot
      answer now leaves the event for SQS's retries (then the DLQ). `Summary.OrderItems` is
      still checked (`SellerSKU`, `Quantity`), as the schema requires it.
    - buyer: None (the notification has no personal data); region: not derived.

Validation follows the schema (tests/fixtures/amazon/OrderChangeNotification.schema.json)
for every field OrderHub reads: absent, null or mistyped -> InvalidPayload naming its path
(`$.Payload.OrderChangeNotification.AmazonOrderId is required`). Schema fields OrderHub does
not read are not enforced: refusing a notification over them would lose the order change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.channels.base import MAX_LINES, load_json, optional, quantity, require
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.timeutil import parse_in_zone

PLATFORM = "amazon"
ORDER_CHANGE = "ORDER_CHANGE"
BOOKED_FULFILLMENT = frozenset({"MFN"})  # seller-fulfilled: shipped from our warehouses
NOTIFICATION = "$.Payload.OrderChangeNotification"

STATUSES = {
    "Pending": PlatformStatus.UNPAID,
    "PendingAvailability": PlatformStatus.UNPAID,
    "Unshipped": PlatformStatus.PAID,
    "PartiallyShipped": PlatformStatus.PAID,
    "Shipped": PlatformStatus.SHIPPED,
    "InvoiceUnconfirmed": PlatformStatus.SHIPPED,
    "Canceled": PlatformStatus.CANCELLED,
    "Unfulfillable": PlatformStatus.CANCELLED,
}
EVENT_TYPES = {
    PlatformStatus.UNPAID: "created",
    PlatformStatus.PAID: "paid",
    PlatformStatus.SHIPPED: "shipped",
    PlatformStatus.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class Notification:
    """One notification as read from the queue: its identity, and the event to book (None
    when OrderHub does not book this notification; `ignored` says why)."""

    notification_type: str
    notification_id: str
    seller_id: str  # "" for types that are not ORDER_CHANGE
    event: OrderEvent | None
    ignored: str = ""

    @property
    def event_key(self) -> str:
        return event_key(self.seller_id, self.notification_id)


def event_key(seller_id: str, notification_id: str) -> str:
    return f"{PLATFORM}#{seller_id}#{notification_id}"


def amazon_status(summary: Mapping[str, Any]) -> PlatformStatus:
    value = require(summary, "OrderStatus", f"{NOTIFICATION}.Summary", str)
    try:
        return STATUSES[value]
    except KeyError:
        known = ", ".join(STATUSES)
        raise InvalidPayload(
            f"{NOTIFICATION}.Summary.OrderStatus '{value}' is not one of: {known}"
        ) from None


def utc_time(obj: Mapping[str, Any], key: str, path: str) -> tuple[datetime, str]:
    """An Amazon time (documented UTC): (UTC, original text). A missing offset means UTC."""
    raw = require(obj, key, path, str)
    try:
        return parse_in_zone(raw, "UTC"), raw
    except ValueError as exc:
        raise InvalidPayload(f"{path}.{key}: {exc}") from None


def _change_time(document: Mapping[str, Any], change: Mapping[str, Any]) -> tuple[datetime, str]:
    path = f"{NOTIFICATION}.OrderChangeTrigger"
    trigger = require(change, "OrderChangeTrigger", NOTIFICATION, dict)
    if trigger.get("TimeOfOrderChange") is None:  # the schema's "no related timestamp"
        return utc_time(document, "EventTime", "$")
    return utc_time(trigger, "TimeOfOrderChange", path)


def _event_time(document: Mapping[str, Any]) -> datetime | None:
    """The notification's `EventTime` (UTC): when Amazon sent it, what clock skew is measured
    on (domain/skew.py); None when absent or unreadable (never a reason to refuse)."""
    raw = document.get("EventTime")
    try:
        return parse_in_zone(raw, "UTC") if isinstance(raw, str) and raw else None
    except ValueError:
        return None


def _line(raw: Any, path: str) -> OrderLine | None:
    if not isinstance(raw, dict):
        raise InvalidPayload(f"{path} must be an object")
    sku = require(raw, "SellerSKU", path, str).strip()
    count = quantity(raw, "Quantity", path)
    return OrderLine(sku, count, Decimal("0")) if count else None


def _lines(summary: Mapping[str, Any]) -> tuple[OrderLine, ...]:
    path = f"{NOTIFICATION}.Summary.OrderItems"
    items = require(summary, "OrderItems", f"{NOTIFICATION}.Summary", list)
    if len(items) > MAX_LINES:
        raise InvalidPayload(f"{path} has {len(items)} items; at most {MAX_LINES}")
    return tuple(
        line for i, raw in enumerate(items) if (line := _line(raw, f"{path}[{i}]")) is not None
    )


def parse_amazon_notification(body: bytes | str, received_at: datetime) -> Notification:
    """Read one notification (the SQS message body). ORDER_CHANGE of a seller-fulfilled order
    -> a Notification carrying the canonical event for store `SellerId`; another type or a
    Fulfilled-by-Amazon order -> a Notification without event. InvalidPayload otherwise."""
    document = load_json(body.encode("utf-8") if isinstance(body, str) else body)
    if not isinstance(document, dict):
        raise InvalidPayload("body must be a JSON object (an SP-API notification)")
    kind = require(document, "NotificationType", "$", str).strip()
    metadata = require(document, "NotificationMetadata", "$", dict)
    notification_id = require(metadata, "NotificationId", "$.NotificationMetadata", str).strip()
    if kind != ORDER_CHANGE:
        reason = f"notification type {kind} is not booked (only {ORDER_CHANGE})"
        return Notification(kind, notification_id, "", None, reason)

    payload = require(document, "Payload", "$", dict)
    change = require(payload, "OrderChangeNotification", "$.Payload", dict)
    seller_id = require(change, "SellerId", NOTIFICATION, str).strip()
    order_id = require(change, "AmazonOrderId", NOTIFICATION, str).strip()
    summary = require(change, "Summary", NOTIFICATION, dict)
    fulfillment = optional(summary, "FulfillmentType", f"{NOTIFICATION}.Summary", str)
    if fulfillment is not None and fulfillment not in BOOKED_FULFILLMENT:
        reason = f"order {order_id} is fulfilled by Amazon ({fulfillment}): not our stock"
        return Notification(kind, notification_id, seller_id, None, reason)
    status = amazon_status(summary)
    updated_at, updated_at_raw = _change_time(document, change)
    _lines(summary)  # checked as the schema says; the lines booked come from the Orders API
    event = replace(
        thin_event(
            event_key(seller_id, notification_id),
            seller_id,
            order_id,
            status,
            (updated_at, updated_at_raw),
            received_at,
        ),
        platform_event_id=notification_id,
        sent_at=_event_time(document),
    )
    return Notification(kind, notification_id, seller_id, event)


def thin_event(
    key: str,
    seller_id: str,
    order_id: str,
    status: PlatformStatus,
    updated: tuple[datetime, str],
    received_at: datetime,
) -> OrderEvent:
    """An Amazon order event without its lines (`complete=False`): before booking, the
    processor fetches the order and its items (module docstring). Both the notification and
    the backup poll (channels/amazon_orders.py) make these."""
    return OrderEvent(
        event_key=key,
        platform=PLATFORM,
        store=seller_id,
        order_id=order_id,
        event_type=EVENT_TYPES[status],
        status=status,
        updated_at=updated[0],
        updated_at_raw=updated[1],
        currency="",
        lines=(),
        buyer=None,
        received_at=received_at,
        complete=False,
    )
