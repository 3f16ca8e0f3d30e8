"""BigCommerce webhooks (`POST /webhooks/bigcommerce/{store}`) and its v2 Orders API answers.

Authenticity
    Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`), one
    verification for both users of the scheme (standard_webhooks.py), 5-minute window on the
    signed timestamp. BigCommerce's key is the app's client secret used as raw bytes, while
    the `standardwebhooks` package takes a base64 key (`whsec_...`), so each raw secret is
    handed over base64-encoded (`raw_secret_key`). The client secret is the app's, shared by
    every store that installed it, so a delivery also names its store (`producer`,
    `stores/{store_hash}`): one for a store hash other than this store's is refused (401).

Dedupe
    `webhook-id`: the event key is `bigcommerce#{store}#{webhook-id}`; BigCommerce's retries
    (about 48 h, then the hook is deactivated) resend it.

Scopes
    Queued: `store/order/created`, `store/order/updated`, `store/order/statusUpdated`,
    `store/order/archived`. Every other scope (products, carts, customers, order messages,
    refunds, transactions, ...) is verified, answered 200 and queues nothing: the order's own
    `statusUpdated`/`updated` hook carries what changes its stock.

Payload → canonical event (thin: `complete=False`)
    BigCommerce sends ids only: `{"scope", "store_id", "data": {"type": "order", "id": 250,
    "status"?: {"previous_status_id", "new_status_id"}}, "hash", "created_at", "producer"}`.
    The event carries the order id, no lines, currency "" and no buyer; its status is a
    placeholder: `new_status_id` mapped as below when a statusUpdated hook names a known one,
    else `unpaid`; its time is the hook's `created_at` (Unix seconds, text kept). The
    processor replaces all of it from the Orders API before booking (domain/details.py,
    adapters/platform_api.py): a BigCommerce event is never planned on its placeholder. If
    the fetch fails it is retried (then the DLQ), or rejected when the order does not exist.

Orders API (v2) → order details (`parse_bigcommerce_order`)
    `GET /stores/{store_hash}/v2/orders/{id}` and `.../orders/{id}/products`, `X-Auth-Token`.
    Status by `status_id`: 0 Incomplete, 1 Pending, 7 Awaiting Payment, 6 Declined → unpaid
    (reserved until the store's reservation timeout: a declined payment may be retried, and
    `cancelled` is final in OrderHub, so a revived order would be ignored); 11 Awaiting
    Fulfillment, 9 Awaiting Shipment, 8 Awaiting Pickup, 12 Manual Verification Required,
    13 Disputed, 14 Partially Refunded → paid (locked: the buyer checked out, a person
    decides; refunded units are not released by themselves, returns come back as receipts);
    2 Shipped, 3 Partially Shipped, 10 Completed → shipped; 5 Cancelled → cancelled;
    4 Refunded → refunded. An archived order (`is_deleted` true) → cancelled. Another id →
    the fetch fails (retried, then the DLQ), naming `status_id`.
    Time: `date_modified`, RFC 2822 (`Wed, 14 Nov 2012 19:26:23 +0000`) → UTC, text kept.
    Currency: `currency_code` (what the buyer paid in). Lines: each product's `sku` (none:
    `product:{product_id}`, which then holds the order as an unknown SKU, or can be mapped),
    `quantity`, unit price `price_inc_tax` (else `base_price`) as Decimal. Buyer (personal
    data): `billing_address` name, phone and address; shipping addresses, a third call, are
    not fetched.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from chalicelib.channels.base import (
    MAX_LINES,
    Credentials,
    Delivery,
    accepted_reply,
    buyer_or_none,
    check_kind,
    currency,
    id_text,
    joined,
    load_json,
    money,
    optional,
    platform_time,
    require,
    text,
)
from chalicelib.channels.standard_webhooks import verify_standard_webhook
from chalicelib.domain.details import OrderDetails
from chalicelib.domain.errors import InvalidPayload, InvalidSignature, TransientFailure
from chalicelib.domain.model import OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.ports import Store
from chalicelib.domain.timeutil import parse_aware

PLATFORM = "bigcommerce"
ORDER_SCOPES = {
    "store/order/created": "created",
    "store/order/updated": "updated",
    "store/order/statusUpdated": "updated",  # refined by the new status below
    "store/order/archived": "updated",
}
STATUS_IDS = {
    0: PlatformStatus.UNPAID,  # Incomplete
    1: PlatformStatus.UNPAID,  # Pending
    7: PlatformStatus.UNPAID,  # Awaiting Payment
    6: PlatformStatus.UNPAID,  # Declined
    11: PlatformStatus.PAID,  # Awaiting Fulfillment
    9: PlatformStatus.PAID,  # Awaiting Shipment
    8: PlatformStatus.PAID,  # Awaiting Pickup
    12: PlatformStatus.PAID,  # Manual Verification Required
    13: PlatformStatus.PAID,  # Disputed
    14: PlatformStatus.PAID,  # Partially Refunded
    2: PlatformStatus.SHIPPED,  # Shipped
    3: PlatformStatus.SHIPPED,  # Partially Shipped
    10: PlatformStatus.SHIPPED,  # Completed
    5: PlatformStatus.CANCELLED,  # Cancelled
    4: PlatformStatus.REFUNDED,  # Refunded
}
STATUS_EVENT_TYPES = {
    PlatformStatus.UNPAID: "updated",
    PlatformStatus.PAID: "paid",
    PlatformStatus.SHIPPED: "shipped",
    PlatformStatus.CANCELLED: "cancelled",
    PlatformStatus.REFUNDED: "refunded",
}
PRODUCER_PREFIX = "stores/"


# ---- credentials -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCredentials:
    """What the Orders API needs: the store hash (in every path) and the API account's
    access token (`X-Auth-Token`). Never logged."""

    store_hash: str
    access_token: str


def _missing(fields: str) -> TransientFailure:
    # Our configuration, not the sender's fault: 503, so BigCommerce retries once it is fixed.
    return TransientFailure(
        f"the store's credentials lack {fields} (Secrets Manager); a BigCommerce store needs "
        '{"client_secret": "...", "store_hash": "...", "access_token": "..."} (docs/platforms.md)'
    )


def _client_secrets(secret: Mapping[str, Any]) -> tuple[str, ...]:
    many = secret.get("client_secrets")
    if isinstance(many, list):
        return tuple(str(v) for v in many if v)
    one = secret.get("client_secret")
    return (str(one),) if one else ()


def api_credentials(secret: Mapping[str, Any]) -> ApiCredentials:
    """The store hash and access token from the store's secret; TransientFailure naming what
    is missing (the secret must be fixed, then the retry succeeds)."""
    store_hash = str(secret.get("store_hash") or "").strip()
    token = str(secret.get("access_token") or "").strip()
    missing = [n for n, ok in (("store_hash", store_hash), ("access_token", token)) if not ok]
    if missing:
        raise _missing(" and ".join(missing))
    return ApiCredentials(store_hash, token)


def bigcommerce_credentials(secret: Mapping[str, Any]) -> Credentials:
    """`{"client_secret": "...", "store_hash": "...", "access_token": "..."}`
    (`"client_secrets": [new, old]` while rotating). All three are needed: the webhook is
    verified with the client secret and bound to the store hash; the order is then fetched
    with the access token."""
    secrets = _client_secrets(secret)
    if not secrets:
        raise _missing("client_secret (or client_secrets)")
    api = api_credentials(secret)
    return Credentials(secrets, shop_id=api.store_hash)


def raw_secret_key(secret: str) -> str:
    """The `standardwebhooks` key for a secret BigCommerce uses as raw bytes: their base64."""
    return base64.b64encode(secret.encode("utf-8")).decode("ascii")


# ---- webhook ---------------------------------------------------------------------------------


def _callback(body: bytes) -> dict[str, Any]:
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise InvalidPayload("body must be a JSON object (a BigCommerce webhook callback)")
    return payload


def _producer_hash(payload: Mapping[str, Any]) -> str:
    producer = require(payload, "producer", "$", str).strip()
    store_hash = producer[len(PRODUCER_PREFIX) :] if producer.startswith(PRODUCER_PREFIX) else ""
    if not store_hash or "/" in store_hash:
        raise InvalidPayload(f"$.producer '{producer}' must read 'stores/<store_hash>'")
    return str(store_hash)


def _new_status(data: Mapping[str, Any]) -> PlatformStatus | None:
    change = optional(data, "status", "$.data", dict)
    if change is None:
        return None
    new_id = optional(change, "new_status_id", "$.data.status", int)
    return STATUS_IDS.get(new_id) if new_id is not None else None


def parse_bigcommerce_webhook(
    body: bytes, store: Store, delivery_id: str, received_at: datetime
) -> list[OrderEvent]:
    """The thin event of an order hook; [] for other scopes."""
    payload = _callback(body)
    scope = require(payload, "scope", "$", str).strip()
    if scope not in ORDER_SCOPES:
        return []
    _producer_hash(payload)
    data = require(payload, "data", "$", dict)
    kind = optional(data, "type", "$.data", str)
    if kind is not None and kind != "order":
        raise InvalidPayload(f"$.data.type '{kind}' must be 'order' for scope {scope}")
    order_id = id_text(data, "id", "$.data")
    sent_at, sent_at_raw = platform_time(payload, "created_at", "$", "UTC")
    status = _new_status(data)
    event_type = ORDER_SCOPES[scope]
    if status is not None:
        event_type = STATUS_EVENT_TYPES[status]
    return [
        OrderEvent(
            event_key=f"{store.platform}#{store.store_id}#{delivery_id}",
            platform=store.platform,
            store=store.store_id,
            order_id=order_id,
            event_type=event_type,
            status=status or PlatformStatus.UNPAID,  # a placeholder: the fetch replaces it
            updated_at=sent_at,
            updated_at_raw=sent_at_raw,
            currency="",
            lines=(),
            buyer=None,
            received_at=received_at,
            complete=False,
        )
    ]


class BigCommerceChannel:
    """Secret: `{"client_secret", "store_hash", "access_token"}` (`"client_secrets": [...]`
    while rotating). Answer: 200."""

    platform = PLATFORM

    def credentials(self, secret: Mapping[str, Any]) -> Credentials:
        return bigcommerce_credentials(secret)

    def verify(self, delivery: Delivery, credentials: Credentials, now: datetime) -> str:
        keys = [raw_secret_key(secret) for secret in credentials.secrets]
        delivery_id = verify_standard_webhook(delivery.headers, delivery.body, keys, now)
        # The client secret is the app's, shared by every store that installed it: the
        # signed `producer` says which store this is. parse() requires it for what it queues.
        producer = _callback(delivery.body).get("producer")
        expected = f"{PRODUCER_PREFIX}{credentials.shop_id}"
        if isinstance(producer, str) and producer.strip() != expected:
            raise InvalidSignature(
                f"delivery is from BigCommerce '{producer}'; this store is '{expected}': "
                "check the destination URL of that store's webhook (or this store's "
                "store_hash)"
            )
        return delivery_id

    def parse(self, delivery: Delivery, store: Store, delivery_id: str) -> list[OrderEvent]:
        return parse_bigcommerce_webhook(delivery.body, store, delivery_id, delivery.received_at)

    def ack(self, delivery_id: str, events: Sequence[OrderEvent]) -> tuple[int, dict[str, Any]]:
        return accepted_reply(delivery_id, (e.event_key for e in events))


# ---- Orders API (v2) -------------------------------------------------------------------------


def rfc2822_time(obj: Mapping[str, Any], key: str, path: str) -> tuple[datetime, str]:
    """BigCommerce v2's time text (RFC 2822, `Wed, 14 Nov 2012 19:26:23 +0000`; ISO-8601
    with an offset is read too): (UTC, original text). `-0000` is UTC."""
    raw = require(obj, key, path, str)
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        try:
            return parse_aware(raw), raw
        except ValueError:
            raise InvalidPayload(
                f"{path}.{key} '{raw}' is not an RFC 2822 time such as "
                "'Wed, 14 Nov 2012 19:26:23 +0000'"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC), raw


def _status(order: Mapping[str, Any]) -> PlatformStatus:
    if order.get("is_deleted") is True:
        return PlatformStatus.CANCELLED  # archived by the merchant: holds nothing
    status_id = require(order, "status_id", "$", int)
    if status_id not in STATUS_IDS:
        known = ", ".join(str(i) for i in sorted(STATUS_IDS))
        raise InvalidPayload(f"$.status_id {status_id} is not a known status id ({known})")
    return STATUS_IDS[status_id]


def _line(raw: Any, path: str) -> OrderLine:
    product = check_kind(raw, path, dict)
    sku = text(product, "sku")
    if not sku:
        sku = f"product:{id_text(product, 'product_id', path)}"
    count = require(product, "quantity", path, int)
    if count <= 0:
        raise InvalidPayload(f"{path}.quantity must be a positive integer")
    price_key = "price_inc_tax" if product.get("price_inc_tax") is not None else "base_price"
    return OrderLine(sku, int(count), money(product, price_key, path))


def parse_bigcommerce_order(order_id: str, order: Any, products: Sequence[Any]) -> OrderDetails:
    """Read `GET /v2/orders/{id}` and its products into the order's details. InvalidPayload
    names the field (paths from the order, `$`, and from its products, `$products[i]`)."""
    if not isinstance(order, dict):
        raise InvalidPayload("the order must be a JSON object")
    if id_text(order, "id", "$") != order_id:
        raise InvalidPayload(f"$.id is {order.get('id')}, not the order {order_id} asked for")
    status = _status(order)
    updated_at, updated_at_raw = rfc2822_time(order, "date_modified", "$")
    paid_in = currency(order, "currency_code", "$")
    if len(products) > MAX_LINES:
        raise InvalidPayload(f"the order has {len(products)} products; at most {MAX_LINES}")
    lines = tuple(_line(raw, f"$products[{i}]") for i, raw in enumerate(products))
    billing = optional(order, "billing_address", "$", dict) or {}
    buyer = buyer_or_none(
        joined((text(billing, "first_name"), text(billing, "last_name")), " "),
        text(billing, "phone"),
        joined(
            text(billing, key)
            for key in ("street_1", "street_2", "city", "state", "zip", "country")
        ),
    )
    return OrderDetails(status, updated_at, updated_at_raw, paid_in, lines, buyer)
