"""WooCommerce order webhooks (`POST /webhooks/woocommerce/{store}`), REST v3 order payload.

Authenticity
    `X-WC-Webhook-Signature` = base64 HMAC-SHA256(secret, raw body) (body_hmac.py), keyed
    with the webhook's secret after `wp_specialchars_decode` (as WooCommerce does, so a secret
    stored with `&amp;` signs as `&`).

The creation ping
    When a webhook is created (or re-activated), WooCommerce POSTs `webhook_id=<id>`
    (form-encoded, unsigned) and only saves the webhook if the answer is exactly 200. A
    delivery with no signature header whose whole body is `webhook_id=<digits>` is that ping:
    answered 200, nothing queued. It proves nothing and books nothing, so accepting it unsigned
    is safe; anything else unsigned is refused (401).

Dedupe and replays
    WooCommerce has no stable delivery id (`X-WC-Webhook-Delivery-ID` is a hash of the webhook
    id and the current time: kept as `platform_event_id`) and does not retry. The event key is
    the composite `woocommerce#{store}#{order id}@{date_modified_gmt}#{status}`: the store
    stands for the source (the URL path names it; the unsigned `X-WC-Webhook-Source` header
    adds nothing), and the status is in it because `date_modified_gmt` has one-second
    resolution: checkout creates the order (pending) and marks it paid (processing) within the
    same second, and without the status the paid state would be dropped as a duplicate of the
    pending one. The same state delivered twice (order.created and order.updated fired by one
    save, a replay) has the same key and books once. No timestamp is signed, so no window
    applies; a replayed body is either a duplicate or older than what the order reflects.

Topics
    Queued: order.created, order.updated, order.restored. Not queued (200, nothing queued):
    every other resource (product.*, customer.*, coupon.*, action.*) and order.deleted, whose
    body is only `{"id": N}` (a trashed order's stock is not released by it: cancel orders
    rather than trash them).

Payload → canonical event
    - order id: `id` as text; time: `date_modified_gmt`, naive UTC text (WooCommerce's `_gmt`
      fields carry no offset); only if it is missing, `date_modified` read in the store's
      configured zone (`Store.timezone`), which is the shop's local time.
    - status: pending, failed, checkout-draft → unpaid (failed: the buyer may pay again; the
      reservation lapses by itself); on-hold → paid (WooCommerce itself reduces stock at
      on-hold, e.g. bank transfer awaiting confirmation: we hold it the same way, without
      expiry, until the shop cancels or completes it); processing → paid; completed →
      shipped; cancelled, trash → cancelled; refunded → refunded. A custom status (from a
      plugin) is refused with 400 naming `$.status`: it has no known stock meaning. Note that
      WooCommerce disables a webhook after more than 5 consecutive failed deliveries.
    - lines: SKU is the line's `sku`; when empty, `variation_id`, else `product_id`, as text
      (map them with `sku_mapping: table`); lines with neither, or quantity 0, are dropped.
      Unit price: `subtotal / quantity` (the line before discounts and tax, as Shopify's
      `price`; decimal text, so exact: "6.00" / 2 = "3.00"; a quotient that does not end is
      rounded half-even to 4 places); when `subtotal` is absent, the line's `price` (a JSON
      number, read as Decimal: never through float).
    - buyer: name and address from `shipping`, else `billing`; phone from `shipping.phone`,
      else `billing.phone`; email from `billing.email`. None when all are empty. Sealed at
      intake.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.channels.base import (
    MAX_LINES,
    Credentials,
    Delivery,
    accepted_reply,
    buyer_or_none,
    currency,
    id_text,
    joined,
    load_json,
    money,
    optional,
    per_unit,
    quantity,
    require,
    text,
    webhook_credentials,
    zoned_time,
)
from chalicelib.channels.body_hmac import body_hmac_matches
from chalicelib.domain.errors import InvalidPayload, InvalidSignature
from chalicelib.domain.model import Buyer, OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.ports import Store

ORDER_EVENTS = {"created": "created", "updated": "updated", "restored": "updated"}
STATUSES = {
    "pending": PlatformStatus.UNPAID,
    "failed": PlatformStatus.UNPAID,
    "checkout-draft": PlatformStatus.UNPAID,
    "on-hold": PlatformStatus.PAID,
    "processing": PlatformStatus.PAID,
    "completed": PlatformStatus.SHIPPED,
    "cancelled": PlatformStatus.CANCELLED,
    "trash": PlatformStatus.CANCELLED,
    "refunded": PlatformStatus.REFUNDED,
}
_PING = re.compile(rb"webhook_id=(\d{1,20})")
PING_PREFIX = "ping:"

# wp_specialchars_decode($secret, ENT_QUOTES): these entities, `&amp;` last.
_WP_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#039;", "'"), ("&#x27;", "'"))


def wp_specialchars_decode(value: str) -> str:
    for entity, char in _WP_ENTITIES:
        value = value.replace(entity, char)
    return value.replace("&amp;", "&")


def ping_webhook_id(delivery: Delivery) -> str | None:
    """The webhook id if this delivery is WooCommerce's unsigned creation ping, else None."""
    if delivery.header("x-wc-webhook-signature"):
        return None
    match = _PING.fullmatch(delivery.body.strip())
    return match.group(1).decode("ascii") if match else None


def _sku(raw: Mapping[str, Any], path: str) -> str:
    sku = text(raw, "sku")
    if sku:
        return sku
    for key in ("variation_id", "product_id"):
        value = raw.get(key)
        if value not in (None, 0, "0", ""):
            return id_text(raw, key, path)
    return ""


def _line(raw: Any, path: str) -> OrderLine | None:
    if not isinstance(raw, dict):
        raise InvalidPayload(f"{path} must be an object")
    count = quantity(raw, "quantity", path)
    sku = _sku(raw, path)
    if not sku or count == 0:
        return None
    if raw.get("subtotal") is not None:
        price = per_unit(money(raw, "subtotal", path), count)
    else:
        price = money(raw, "price", path)
    return OrderLine(sku, count, price)


def _buyer(order: Mapping[str, Any]) -> Buyer | None:
    shipping: Mapping[str, Any] = optional(order, "shipping", "$", dict) or {}
    billing: Mapping[str, Any] = optional(order, "billing", "$", dict) or {}

    def name(part: Mapping[str, Any]) -> str:
        return joined([text(part, "first_name"), text(part, "last_name")], " ")

    def where(part: Mapping[str, Any]) -> str:
        keys = ("address_1", "address_2", "city", "state", "postcode", "country")
        return joined(text(part, key) for key in keys)

    return buyer_or_none(
        name(shipping) or name(billing),
        text(shipping, "phone") or text(billing, "phone"),
        where(shipping) or where(billing),
        email=text(billing, "email"),
    )


def _modified(order: Mapping[str, Any], store: Store) -> tuple[datetime, str]:
    if order.get("date_modified_gmt") is not None:
        return zoned_time(order, "date_modified_gmt", "$", "UTC")
    if order.get("date_modified") is not None:
        return zoned_time(order, "date_modified", "$", store.timezone)
    raise InvalidPayload("$.date_modified_gmt is required")


def parse_woocommerce_order(
    body: bytes, event: str, store: Store, delivery_id: str, received_at: datetime
) -> OrderEvent:
    """The canonical event for one order webhook (`event` in ORDER_EVENTS)."""
    order = load_json(body)
    if not isinstance(order, dict):
        raise InvalidPayload("body must be a JSON object (a WooCommerce order)")
    order_id = id_text(order, "id", "$")
    status_text = require(order, "status", "$", str)
    if status_text not in STATUSES:
        raise InvalidPayload(
            f"$.status '{status_text}' is not one of: {', '.join(STATUSES)} "
            "(custom statuses have no stock meaning in OrderHub yet)"
        )
    updated_at, updated_at_raw = _modified(order, store)
    raw_lines = require(order, "line_items", "$", list)
    if len(raw_lines) > MAX_LINES:
        raise InvalidPayload(f"$.line_items has {len(raw_lines)} lines; at most {MAX_LINES}")
    lines = tuple(
        line
        for i, raw in enumerate(raw_lines)
        if (line := _line(raw, f"$.line_items[{i}]")) is not None
    )
    return OrderEvent(
        event_key=(f"{store.platform}#{store.store_id}#{order_id}@{updated_at_raw}#{status_text}"),
        platform=store.platform,
        store=store.store_id,
        order_id=order_id,
        event_type=ORDER_EVENTS[event],
        status=STATUSES[status_text],
        updated_at=updated_at,
        updated_at_raw=updated_at_raw,
        currency=currency(order, "currency", "$"),
        lines=lines,
        buyer=_buyer(order),
        received_at=received_at,
        platform_event_id=delivery_id,
    )


class WooCommerceChannel:
    """Secret: `{"webhook_secret": "..."}` (`"webhook_secrets": [...]` while rotating).
    Answer: 200 (the creation ping needs exactly 200; deliveries any 2xx)."""

    platform = "woocommerce"

    def credentials(self, secret: Mapping[str, Any]) -> Credentials:
        found = webhook_credentials(secret)
        return Credentials(tuple(wp_specialchars_decode(s) for s in found.secrets))

    def verify(self, delivery: Delivery, credentials: Credentials, now: datetime) -> str:
        ping = ping_webhook_id(delivery)
        if ping is not None:
            return f"{PING_PREFIX}{ping}"
        signature = delivery.header("x-wc-webhook-signature")
        if not signature:
            raise InvalidSignature("missing X-WC-Webhook-Signature header (WooCommerce signing)")
        if not body_hmac_matches(delivery.body, signature, credentials.secrets):
            raise InvalidSignature(
                "X-WC-Webhook-Signature does not match the store's webhook secret"
            )
        return delivery.header("x-wc-webhook-delivery-id") or delivery.digest

    def parse(self, delivery: Delivery, store: Store, delivery_id: str) -> list[OrderEvent]:
        if ping_webhook_id(delivery) is not None:
            return []  # the creation ping: answered 200, nothing queued
        topic = delivery.header("x-wc-webhook-topic")
        if not topic:
            resource, event = (
                delivery.header("x-wc-webhook-resource"),
                delivery.header("x-wc-webhook-event"),
            )
        else:
            resource, _, event = topic.partition(".")
        if not resource:
            raise InvalidPayload("missing X-WC-Webhook-Topic header (e.g. order.updated)")
        if resource != "order" or event not in ORDER_EVENTS:
            return []  # verified, not an order state: acknowledged, nothing queued
        return [
            parse_woocommerce_order(delivery.body, event, store, delivery_id, delivery.received_at)
        ]

    def ack(self, delivery_id: str, events: Sequence[OrderEvent]) -> tuple[int, dict[str, Any]]:
        return accepted_reply(delivery_id, (e.event_key for e in events))
