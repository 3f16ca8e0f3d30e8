"""TikTok Shop webhooks (`POST /webhooks/tiktok/{store}`).

Authenticity
    `Authorization` = hex HMAC-SHA256(app_secret, app_key + raw body) (tiktok_signature.py).
    The key pair is the partner app's, shared by every shop the app serves, so the store's
    secret may name its `shop_id`: a delivery signed for another shop of the same app is then
    refused (401) instead of being booked under this store.

Dedupe and replays
    No delivery id. The event key is the composite
    `tiktok#{store}#{shop_id}:{type}:{order_id}:{order_status}:{update_time}`, all from the
    signed body: the same status change delivered again books once. The body's `timestamp` is
    signed, but TikTok does not document whether a retry re-signs it, so no window is applied
    (it could reject legitimate retries); a replayed body is a duplicate by its key.

Types
    Queued: type 1 (order status change). Acknowledged without queuing: every other type
    (2 reverse/return status, 3 recipient address, 4 package, 5 product audit, 6 seller
    deauthorization, ...): none of them changes what an order holds by itself. Type 2 is
    also recorded as an after-sales request (channels/after_sales.py), not queued.

Payload → canonical event (a thin event: `complete=False`)
    The message carries only `order_id`, `order_status` and `update_time` (Unix seconds →
    UTC). Lines, currency and buyer are not in it: they come from TikTok's order API (Get
    Order Detail), which the processor must call before booking (`OrderEvent.complete` says
    so). Until then `lines` is empty, `currency` "" and `buyer` None.
    Status: UNPAID → unpaid; ON_HOLD (paid, in the cancellation window), AWAITING_SHIPMENT →
    paid; PARTIALLY_SHIPPING, AWAITING_COLLECTION, IN_TRANSIT, DELIVERED, COMPLETED → shipped;
    CANCELLED → cancelled. The numeric codes of the older API (100, 105, 111, 112, 114, 121,
    122, 130, 140) are read the same. Another value → 400 naming `$.data.order_status`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.channels.base import (
    Credentials,
    Delivery,
    accepted_reply,
    app_credentials,
    id_text,
    load_json,
    platform_time,
    require,
)
from chalicelib.channels.tiktok_signature import tiktok_signature_matches
from chalicelib.domain.errors import InvalidPayload, InvalidSignature
from chalicelib.domain.model import OrderEvent, PlatformStatus
from chalicelib.domain.ports import Store

ORDER_STATUS_CHANGE = 1
STATUSES = {
    "UNPAID": PlatformStatus.UNPAID,
    "ON_HOLD": PlatformStatus.PAID,
    "AWAITING_SHIPMENT": PlatformStatus.PAID,
    "PARTIALLY_SHIPPING": PlatformStatus.SHIPPED,
    "AWAITING_COLLECTION": PlatformStatus.SHIPPED,
    "IN_TRANSIT": PlatformStatus.SHIPPED,
    "DELIVERED": PlatformStatus.SHIPPED,
    "COMPLETED": PlatformStatus.SHIPPED,
    "CANCELLED": PlatformStatus.CANCELLED,
}
LEGACY_CODES = {
    "100": "UNPAID",
    "105": "ON_HOLD",
    "111": "AWAITING_SHIPMENT",
    "112": "AWAITING_COLLECTION",
    "114": "PARTIALLY_SHIPPING",
    "121": "IN_TRANSIT",
    "122": "DELIVERED",
    "130": "COMPLETED",
    "140": "CANCELLED",
}
EVENT_TYPES = {
    PlatformStatus.UNPAID: "created",
    PlatformStatus.PAID: "paid",
    PlatformStatus.SHIPPED: "shipped",
    PlatformStatus.CANCELLED: "cancelled",
}


def _message(body: bytes) -> dict[str, Any]:
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise InvalidPayload("body must be a JSON object (a TikTok Shop webhook)")
    return payload


def _status(data: Mapping[str, Any]) -> tuple[str, PlatformStatus]:
    value = data.get("order_status")
    name = LEGACY_CODES.get(str(value), str(value)) if value is not None else ""
    if not name:
        raise InvalidPayload("$.data.order_status is required")
    if name not in STATUSES:
        raise InvalidPayload(f"$.data.order_status '{value}' is not one of: {', '.join(STATUSES)}")
    return name, STATUSES[name]


def parse_tiktok_webhook(body: bytes, store: Store, received_at: datetime) -> list[OrderEvent]:
    """The canonical (thin) event of an order status change; [] for other types."""
    payload = _message(body)
    kind = require(payload, "type", "$", int)
    if kind != ORDER_STATUS_CHANGE:
        return []
    shop_id = id_text(payload, "shop_id", "$")
    data = require(payload, "data", "$", dict)
    order_id = id_text(data, "order_id", "$.data")
    status_name, status = _status(data)
    updated_at, updated_at_raw = platform_time(data, "update_time", "$.data", store.timezone)
    key = f"{shop_id}:{kind}:{order_id}:{status_name}:{updated_at_raw}"
    return [
        OrderEvent(
            event_key=f"{store.platform}#{store.store_id}#{key}",
            platform=store.platform,
            store=store.store_id,
            order_id=order_id,
            event_type=EVENT_TYPES[status],
            status=status,
            updated_at=updated_at,
            updated_at_raw=updated_at_raw,
            currency="",
            lines=(),
            buyer=None,
            received_at=received_at,
            complete=False,
            sent_at=_sent_at(payload),
        )
    ]


def _sent_at(payload: Mapping[str, Any]) -> datetime | None:
    """The body's `timestamp` (Unix seconds, signed): when TikTok sent the message, what
    clock skew is measured on (domain/skew.py); None when absent or unreadable."""
    stamp = payload.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int) or stamp <= 0:
        return None
    try:
        return datetime.fromtimestamp(stamp, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


class TikTokChannel:
    """Secret: `{"app_key": "...", "app_secret": "..."}` (`"app_secrets": [...]` while
    rotating), optionally `"shop_id"`. Answer: 200."""

    platform = "tiktok"

    def credentials(self, secret: Mapping[str, Any]) -> Credentials:
        return app_credentials(secret)

    def verify(self, delivery: Delivery, credentials: Credentials, now: datetime) -> str:
        signature = delivery.header("authorization")
        if not signature:
            raise InvalidSignature("missing Authorization header (TikTok Shop signing)")
        if not tiktok_signature_matches(
            delivery.body, signature, credentials.app_key, credentials.secrets
        ):
            raise InvalidSignature("Authorization does not match the store's app key and secret")
        if credentials.shop_id:
            shop = _message(delivery.body).get("shop_id")
            if shop is not None and str(shop) != credentials.shop_id:
                raise InvalidSignature(
                    f"delivery is for TikTok shop {shop}; this store is shop "
                    f"{credentials.shop_id}: check the webhook URL registered for that shop"
                )
        return delivery.digest

    def parse(self, delivery: Delivery, store: Store, delivery_id: str) -> list[OrderEvent]:
        return parse_tiktok_webhook(delivery.body, store, delivery.received_at)

    def ack(self, delivery_id: str, events: Sequence[OrderEvent]) -> tuple[int, dict[str, Any]]:
        return accepted_reply(delivery_id, (e.event_key for e in events))
