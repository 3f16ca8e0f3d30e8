"""Douyin Shop (抖店) message push (`POST /webhooks/douyin/{store}`).

Authenticity
    `event-sign` over app_key + raw body + app_secret, MD5 or (`sign-method: hmac-sha256`)
    HMAC-SHA256 (douyin_signature.py); the `app-id` header must be the store's app key. The
    key pair is the app's; the store's secret may name its `shop_id`, and then a message for
    another shop of the same app is refused (401) rather than booked under this store.

Shape and answer
    The body is a JSON array of messages `{"tag": "100", "msg_id": "...", "data": "<JSON
    text>"}`; one delivery becomes one canonical event per order message. Douyin expects
    `{"code": 0, "msg": "success"}` within 5 s, so this channel answers that body (HTTP 200)
    for every delivery it accepted, order messages or not. Tag "0" is the push service's
    verification message (sent, signed, when the URL is configured): answered the same way,
    nothing queued. A refusal (bad signature 401, bad message 400) keeps OrderHub's error body:
    any answer but success makes Douyin deliver again.

Dedupe and replays
    Each message's key is `douyin#{store}#{msg_id}`: a message pushed again (in the same or
    another delivery) books once. No timestamp is signed, so no window applies.

Tags
    Queued: 100 order created → unpaid (`create_time`); 101 paid/confirmed (cash on delivery:
    confirmed) → paid (`pay_time`); 102 seller shipped → shipped (`update_time`); 103 trade
    completed → shipped (`complete_time`); 106 cancelled → cancelled (`cancel_time`).
    Acknowledged without queuing: 0 (verification) and every other tag — 104 logistics
    change, 105 address change, 108 amount change, 2xx after-sale/refund messages (a refund
    before shipment also closes the order, which arrives as 106; refunds after shipment
    return goods through receipts; tags 200-205 are also recorded as after-sales requests,
    not queued: channels/after_sales.py), product and other messages.

Payload → canonical event (a thin event: `complete=False`)
    `data` (JSON text, or an object) gives `p_id` (the shop order id, 19 digits: kept as
    text), `shop_id`, and the tag's time as Unix seconds (text times would be read in the
    store's zone, Asia/Shanghai for Douyin stores). It has no lines, currency or buyer: those
    come from the order API (order.orderDetail), which the processor must call before
    booking (`OrderEvent.complete`); until then `lines` is empty, `currency` "" and `buyer`
    None. `msg_id` is kept as `platform_event_id`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.channels.base import (
    Credentials,
    Delivery,
    app_credentials,
    id_text,
    load_json,
    platform_time,
)
from chalicelib.channels.douyin_signature import SIGN_METHODS, douyin_signature_matches
from chalicelib.domain.errors import InvalidPayload, InvalidSignature
from chalicelib.domain.model import OrderEvent, PlatformStatus
from chalicelib.domain.ports import Store

VERIFICATION_TAG = "0"
ORDER_TAGS: dict[str, tuple[str, PlatformStatus, str]] = {
    "100": ("created", PlatformStatus.UNPAID, "create_time"),
    "101": ("paid", PlatformStatus.PAID, "pay_time"),
    "102": ("shipped", PlatformStatus.SHIPPED, "update_time"),
    "103": ("shipped", PlatformStatus.SHIPPED, "complete_time"),
    "106": ("cancelled", PlatformStatus.CANCELLED, "cancel_time"),
}
OTHER_TIMES = ("update_time", "cancel_time", "complete_time", "pay_time", "create_time")
MAX_MESSAGES = 500
SUCCESS = {"code": 0, "msg": "success"}


def _messages(body: bytes) -> list[Any]:
    payload = load_json(body)
    if not isinstance(payload, list):
        raise InvalidPayload("body must be a JSON array of messages (Douyin message push)")
    if len(payload) > MAX_MESSAGES:
        raise InvalidPayload(f"$ has {len(payload)} messages; at most {MAX_MESSAGES}")
    return payload


def _tag(message: Any, path: str) -> str:
    if not isinstance(message, dict):
        raise InvalidPayload(f"{path} must be an object")
    return id_text(message, "tag", path)


def _data(message: Mapping[str, Any], path: str) -> dict[str, Any]:
    raw = message.get("data")
    if raw is None:
        raise InvalidPayload(f"{path}.data is required")
    if isinstance(raw, str):
        try:
            raw = load_json(raw.encode("utf-8"))
        except InvalidPayload:
            raise InvalidPayload(f"{path}.data is not valid JSON text") from None
    if not isinstance(raw, dict):
        raise InvalidPayload(f"{path}.data must be a JSON object (or its text)")
    return raw


def _event(
    message: Mapping[str, Any], tag: str, path: str, store: Store, received_at: datetime
) -> OrderEvent:
    event_type, status, time_field = ORDER_TAGS[tag]
    msg_id = id_text(message, "msg_id", path)
    data = _data(message, path)
    order_id = id_text(data, "p_id", f"{path}.data")
    field = next(
        (k for k in (time_field, *OTHER_TIMES) if data.get(k) is not None),
        time_field,
    )
    updated_at, updated_at_raw = platform_time(data, field, f"{path}.data", store.timezone)
    return OrderEvent(
        event_key=f"{store.platform}#{store.store_id}#{msg_id}",
        platform=store.platform,
        store=store.store_id,
        order_id=order_id,
        event_type=event_type,
        status=status,
        updated_at=updated_at,
        updated_at_raw=updated_at_raw,
        currency="",
        lines=(),
        buyer=None,
        received_at=received_at,
        complete=False,
        platform_event_id=msg_id,
    )


def parse_douyin_push(body: bytes, store: Store, received_at: datetime) -> list[OrderEvent]:
    """One canonical (thin) event per order message; verification and other tags give none."""
    events = []
    for i, message in enumerate(_messages(body)):
        path = f"$[{i}]"
        tag = _tag(message, path)
        if tag in ORDER_TAGS:
            events.append(_event(message, tag, path, store, received_at))
    return events


def _foreign_shop(body: bytes, shop_id: str) -> str | None:
    """The first shop other than `shop_id` that a message names, if any."""
    for i, message in enumerate(_messages(body)):
        if _tag(message, f"$[{i}]") == VERIFICATION_TAG or message.get("data") is None:
            continue
        shop = _data(message, f"$[{i}]").get("shop_id")
        if shop is not None and str(shop) != shop_id:
            return str(shop)
    return None


class DouyinChannel:
    """Secret: `{"app_key": "...", "app_secret": "..."}` (`"app_secrets": [...]` while
    rotating), optionally `"shop_id"`. Answer: 200 `{"code": 0, "msg": "success"}`."""

    platform = "douyin"

    def credentials(self, secret: Mapping[str, Any]) -> Credentials:
        return app_credentials(secret)

    def verify(self, delivery: Delivery, credentials: Credentials, now: datetime) -> str:
        for header in ("app-id", "event-sign"):
            if not delivery.header(header):
                raise InvalidSignature(f"missing {header} header (Douyin message push signing)")
        if delivery.header("app-id") != credentials.app_key:
            raise InvalidSignature("app-id header is not this store's app_key")
        method = (delivery.header("sign-method") or "md5").lower()
        if method not in SIGN_METHODS:
            raise InvalidSignature(
                f"sign-method '{method}' is not supported ({', '.join(SIGN_METHODS)})"
            )
        if not douyin_signature_matches(
            delivery.body,
            delivery.header("event-sign"),
            credentials.app_key,
            credentials.secrets,
            method,
        ):
            raise InvalidSignature("event-sign does not match the store's app key and secret")
        if credentials.shop_id:
            other = _foreign_shop(delivery.body, credentials.shop_id)
            if other is not None:
                raise InvalidSignature(
                    f"delivery has messages for Douyin shop {other}; this store is shop "
                    f"{credentials.shop_id}: check the push URL configured for the app"
                )
        return delivery.digest

    def parse(self, delivery: Delivery, store: Store, delivery_id: str) -> list[OrderEvent]:
        return parse_douyin_push(delivery.body, store, delivery.received_at)

    def ack(self, delivery_id: str, events: Sequence[OrderEvent]) -> tuple[int, dict[str, Any]]:
        return 200, dict(SUCCESS)
