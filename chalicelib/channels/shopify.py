"""Shopify order webhooks (`POST /webhooks/shopify/{store}`), REST/JSON order payload.

Authenticity
    `X-Shopify-Hmac-Sha256` = base64 HMAC-SHA256(secret, raw body) (body_hmac.py). The secret
    is the app's client secret (or, for webhooks created in the shop admin, the secret shown
    there). After a rotation Shopify may sign with the old secret for up to an hour: keep both
    in `webhook_secrets` for that long.

Dedupe
    The event key is `shopify#{store}#{X-Shopify-Webhook-Id}`: Shopify resends a failed
    delivery with the same webhook id, so a retry is booked once. `X-Shopify-Event-Id` (one
    per event, shared by the deliveries of that event to several subscriptions) is kept as the
    event's `platform_event_id` for investigation.

Replays and the timestamp window — decision
    Shopify signs the body only. `X-Shopify-Triggered-At` says when the event fired, but it is
    not signed, and Shopify retries a failed delivery 8 times over 4 hours *with the original
    payload and headers*, so the header of a legitimate retry is up to 4 hours old.
    A 5-minute window on it would therefore reject Shopify's own retries (and lose the order:
    after the last retry Shopify gives up and may remove the subscription), while stopping no
    attacker (who can rewrite an unsigned header). So OrderHub applies NO timestamp window to
    Shopify, and `X-Shopify-Triggered-At` is neither required nor checked. Replays are made
    harmless instead, which is what the window is for:
    - the same delivery again (retry or replay) has the same webhook id: its event record is
      kept for good (it is also the ledger), so it is recognised as a duplicate and books
      nothing, however late it comes;
    - a captured body replayed under a new webhook id (the id is not signed either) carries
      the order state it was signed with: an event not newer than what the order already
      reflects changes nothing (the `updated_at` ordering rule in booking), and the body
      cannot be altered without breaking the HMAC.
    The "replayed delivery outside the window is rejected" rule of issue 4 thus holds where a
    scheme signs a timestamp (Standard Webhooks: own shop, BigCommerce); here "booked once"
    holds by the kept dedupe record instead of by rejection.

Topics
    Queued: orders/create, orders/updated, orders/paid, orders/cancelled, orders/fulfilled,
    orders/partially_fulfilled (all send the whole order). Every other topic (products/*,
    customers/*, orders/delete with its id-only body, orders/edited with its edit summary,
    app/uninstalled, ...) is verified, answered 200 and queued nothing; `returns/request`,
    `returns/approve`, `returns/decline` and `refunds/create` are also recorded as
    after-sales requests (channels/after_sales.py).

Payload → canonical event
    - order id: `id` as text (64-bit, exact); time: `updated_at` (ISO-8601 with offset) → UTC.
    - status, from the order's fields (the topic only names the event): financial_status
      `refunded` → refunded; else `cancelled_at` set → cancelled; else fulfillment_status
      `fulfilled`/`partial` → shipped (stock already went out, whatever the payment: cash on
      delivery); else financial_status `paid`/`authorized`/`partially_paid`/
      `partially_refunded` → paid; `pending`/`voided`/`expired`/none → unpaid (a voided
      authorization without cancellation leaves the order open: its reservation lapses and a
      later payment books it again, rather than closing it for good). Another value → 400.
    - currency: the shop currency `currency`; unit price: the line's `price` (shop currency,
      before discounts), as Decimal.
    - lines: quantity is `current_quantity` (after edits and refunds) when present, else
      `quantity`; lines at 0 are dropped. SKU is the line's `sku`; when empty, the
      `variant_id` as text (map it with the store's `sku_mapping: table`); gift cards and
      custom items with neither hold no stock and are dropped.
    - buyer: shipping address, else billing address, else the customer's default address;
      phone from that address, else the order's, else the customer's; email the order's
      `email`, else `contact_email`, else the customer's. None when the order has none of
      these (the booking then keeps any buyer it knew). Sealed at intake.
    - region: not derived (warehouse regions are the seller's own labels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.channels.base import (
    MAX_LINES,
    Credentials,
    Delivery,
    accepted_reply,
    aware_time,
    buyer_or_none,
    currency,
    id_text,
    joined,
    load_json,
    money,
    optional,
    quantity,
    require,
    text,
    webhook_credentials,
)
from chalicelib.channels.body_hmac import body_hmac_matches
from chalicelib.domain.errors import InvalidPayload, InvalidSignature
from chalicelib.domain.model import Buyer, OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.ports import Store

ORDER_TOPICS = {
    "orders/create": "created",
    "orders/updated": "updated",
    "orders/paid": "paid",
    "orders/cancelled": "cancelled",
    "orders/fulfilled": "shipped",
    "orders/partially_fulfilled": "shipped",
}
PAID = ("paid", "authorized", "partially_paid", "partially_refunded")
UNPAID = ("pending", "voided", "expired", "")


def shopify_status(order: Mapping[str, Any]) -> PlatformStatus:
    value = order.get("financial_status")
    if value is not None and not isinstance(value, str):
        raise InvalidPayload("$.financial_status must be a string")
    financial = (value or "").strip()
    if financial == "refunded":
        return PlatformStatus.REFUNDED
    if order.get("cancelled_at"):
        return PlatformStatus.CANCELLED
    if order.get("fulfillment_status") in ("fulfilled", "partial"):
        return PlatformStatus.SHIPPED
    if financial in PAID:
        return PlatformStatus.PAID
    if financial in UNPAID:
        return PlatformStatus.UNPAID
    known = ", ".join(("refunded", *PAID, *(u for u in UNPAID if u)))
    raise InvalidPayload(f"$.financial_status '{financial}' is not one of: {known}")


def _line(raw: Any, path: str) -> OrderLine | None:
    if not isinstance(raw, dict):
        raise InvalidPayload(f"{path} must be an object")
    if raw.get("gift_card") is True:
        return None
    current = raw.get("current_quantity") is not None
    count = quantity(raw, "current_quantity" if current else "quantity", path)
    sku = text(raw, "sku")
    if not sku and raw.get("variant_id") is not None:
        sku = id_text(raw, "variant_id", path)
    if not sku or count == 0:
        return None
    return OrderLine(sku, count, money(raw, "price", path))


def _buyer(order: Mapping[str, Any]) -> Buyer | None:
    customer = optional(order, "customer", "$", dict) or {}
    address = (
        optional(order, "shipping_address", "$", dict)
        or optional(order, "billing_address", "$", dict)
        or optional(customer, "default_address", "$.customer", dict)
        or {}
    )
    name = (
        text(address, "name")
        or joined([text(address, "first_name"), text(address, "last_name")], " ")
        or joined([text(customer, "first_name"), text(customer, "last_name")], " ")
    )
    phone = text(address, "phone") or text(order, "phone") or text(customer, "phone")
    email = text(order, "email") or text(order, "contact_email") or text(customer, "email")
    where = joined(
        text(address, key) for key in ("address1", "address2", "city", "province", "zip", "country")
    )
    return buyer_or_none(name, phone, where, email=email)


def parse_shopify_order(
    body: bytes, topic: str, store: Store, webhook_id: str, event_id: str, received_at: datetime
) -> OrderEvent:
    """The canonical event for one order webhook (topic in ORDER_TOPICS)."""
    order = load_json(body)
    if not isinstance(order, dict):
        raise InvalidPayload("body must be a JSON object (a Shopify order)")
    updated_at, updated_at_raw = aware_time(order, "updated_at", "$")
    raw_lines = require(order, "line_items", "$", list)
    if len(raw_lines) > MAX_LINES:
        raise InvalidPayload(f"$.line_items has {len(raw_lines)} lines; at most {MAX_LINES}")
    lines = tuple(
        line
        for i, raw in enumerate(raw_lines)
        if (line := _line(raw, f"$.line_items[{i}]")) is not None
    )
    return OrderEvent(
        event_key=f"{store.platform}#{store.store_id}#{webhook_id}",
        platform=store.platform,
        store=store.store_id,
        order_id=id_text(order, "id", "$"),
        event_type=ORDER_TOPICS[topic],
        status=shopify_status(order),
        updated_at=updated_at,
        updated_at_raw=updated_at_raw,
        currency=currency(order, "currency", "$"),
        lines=lines,
        buyer=_buyer(order),
        received_at=received_at,
        platform_event_id=event_id,
    )


class ShopifyChannel:
    """Secret: `{"webhook_secret": "..."}` (`"webhook_secrets": [...]` while rotating).
    Answer: 200 (Shopify counts any 2xx within 5 s as delivered)."""

    platform = "shopify"

    def credentials(self, secret: Mapping[str, Any]) -> Credentials:
        return webhook_credentials(secret)

    def verify(self, delivery: Delivery, credentials: Credentials, now: datetime) -> str:
        """HMAC over the raw body; no timestamp window (see the module's docstring)."""
        signature = delivery.header("x-shopify-hmac-sha256")
        if not signature:
            raise InvalidSignature("missing X-Shopify-Hmac-Sha256 header (Shopify signing)")
        if not body_hmac_matches(delivery.body, signature, credentials.secrets):
            raise InvalidSignature(
                "X-Shopify-Hmac-Sha256 does not match the store's webhook secret"
            )
        webhook_id = delivery.header("x-shopify-webhook-id")
        if not webhook_id:
            raise InvalidSignature("missing X-Shopify-Webhook-Id header (the delivery's id)")
        return webhook_id

    def parse(self, delivery: Delivery, store: Store, delivery_id: str) -> list[OrderEvent]:
        topic = delivery.header("x-shopify-topic")
        if not topic:
            raise InvalidPayload("missing X-Shopify-Topic header (e.g. orders/create)")
        if topic not in ORDER_TOPICS:
            return []  # verified, not an order event: acknowledged, nothing queued
        event_id = delivery.header("x-shopify-event-id")
        return [
            parse_shopify_order(
                delivery.body, topic, store, delivery_id, event_id, delivery.received_at
            )
        ]

    def ack(self, delivery_id: str, events: Sequence[OrderEvent]) -> tuple[int, dict[str, Any]]:
        return accepted_reply(delivery_id, (e.event_key for e in events))
