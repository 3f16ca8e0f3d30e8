"""After-sales messages of the webhook platforms → `AfterSalesEvent`s. Pure Python.

Called by ingest after the delivery is verified (the same signature as its order messages),
for the platforms that push after-sales changes. The order channel still answers these
deliveries as before and queues nothing for them; the events are recorded directly
(domain/after_sales.py). Conservative: a message whose status is not listed here, or that
lacks the fields a request needs, gives no event (it is still acknowledged, as before), so a
shape we misread never makes the platform redeliver.

TikTok Shop, webhook type 2 (reverse order status change)
    `data`: `order_id`, `reverse_order_id` (the request id), `reverse_order_status` (the
    legacy numeric code or its name), `update_time` (Unix seconds). Requested: 1
    AFTERSALE_APPLYING. Answered: 2 AFTERSALE_REJECT_APPLICATION, 3 AFTERSALE_RETURNING
    (seller approved the return), 5 AFTERSALE_SELLER_REJECT_RECEIVE, 50 AFTERSALE_SUCCESS,
    51 CANCEL_SUCCESS, 99 CLOSED, 100 COMPLETE. Not mapped: 4 AFTERSALE_BUYER_SHIPPED (the
    buyer's step, the request was already answered). Dedupe key
    `tiktok#{store}#{shop_id}:2:{reverse_order_id}:{status}:{update_time}`.
Douyin (抖店 message push), refund tags (doudian_refund_*)
    `data`: `p_id` (order), `aftersale_id` (request), and the tag's time. Requested: 200
    买家发起售后申请 (`apply_time`). Answered: 201 同意退款 (`agree_time`), 202 同意退货申请
    (`agree_time`), 204 拒绝退款 (`refuse_time`), 205 拒绝退货申请 (`refuse_time`). Other 2xx
    tags (buyer returned goods, refund succeeded, closed, modified) are not mapped. Dedupe
    key `douyin#{store}#{msg_id}`.
Shopify, by `X-Shopify-Topic`
    `returns/request` → requested (the return's `id`; order `order.id` or `order_id`);
    `returns/approve`, `returns/decline` → answered. Return payloads carry no event time
    OrderHub relies on, so the receipt time is used. `refunds/create` → answered at the
    refund's `created_at` (a refund is the seller's act: it counts as after-sales volume and
    never waits); a refund for a return (`return.id`) answers that return's request. Dedupe
    key `shopify#{store}#{X-Shopify-Webhook-Id}`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.channels.after_sales_platforms import PLATFORM_PARSERS
from chalicelib.channels.base import Delivery, load_json, platform_time, text
from chalicelib.domain.after_sales import ANSWERED, REQUESTED, AfterSalesEvent
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.ports import Store
from chalicelib.domain.timeutil import parse_aware

TIKTOK_REVERSE_STATUS_CHANGE = 2
TIKTOK_REVERSE_NAMES = {
    "1": "AFTERSALE_APPLYING",
    "2": "AFTERSALE_REJECT_APPLICATION",
    "3": "AFTERSALE_RETURNING",
    "4": "AFTERSALE_BUYER_SHIPPED",
    "5": "AFTERSALE_SELLER_REJECT_RECEIVE",
    "50": "AFTERSALE_SUCCESS",
    "51": "CANCEL_SUCCESS",
    "99": "CLOSED",
    "100": "COMPLETE",
}
TIKTOK_REVERSE_KINDS = {
    "AFTERSALE_APPLYING": REQUESTED,
    "AFTERSALE_REJECT_APPLICATION": ANSWERED,
    "AFTERSALE_RETURNING": ANSWERED,
    "AFTERSALE_SELLER_REJECT_RECEIVE": ANSWERED,
    "AFTERSALE_SUCCESS": ANSWERED,
    "CANCEL_SUCCESS": ANSWERED,
    "CLOSED": ANSWERED,
    "COMPLETE": ANSWERED,
}
DOUYIN_REFUND_TAGS = {  # tag → (kind, time field)
    "200": (REQUESTED, "apply_time"),
    "201": (ANSWERED, "agree_time"),
    "202": (ANSWERED, "agree_time"),
    "204": (ANSWERED, "refuse_time"),
    "205": (ANSWERED, "refuse_time"),
}
SHOPIFY_RETURN_TOPICS = {
    "returns/request": REQUESTED,
    "returns/approve": ANSWERED,
    "returns/decline": ANSWERED,
}
SHOPIFY_REFUND_TOPIC = "refunds/create"


def _json(body: bytes) -> Any:
    try:
        return load_json(body)
    except InvalidPayload:
        return None


def _id(obj: Any, key: str) -> str:
    """An id sent as text or as a number (64-bit ids stay exact); "" when absent."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return ""
    return str(value).strip()


def _time(obj: Mapping[str, Any], key: str, zone: str) -> tuple[datetime, str] | None:
    try:
        return platform_time(obj, key, "$", zone)
    except InvalidPayload:
        return None


def tiktok_after_sales(delivery: Delivery, store: Store) -> list[AfterSalesEvent]:
    payload = _json(delivery.body)
    if not isinstance(payload, dict) or payload.get("type") != TIKTOK_REVERSE_STATUS_CHANGE:
        return []
    data = payload.get("data")
    if not isinstance(data, dict):
        return []
    raw_status = str(data.get("reverse_order_status", "")).strip()
    status = TIKTOK_REVERSE_NAMES.get(raw_status, raw_status)
    kind = TIKTOK_REVERSE_KINDS.get(status)
    order_id, request_id = _id(data, "order_id"), _id(data, "reverse_order_id")
    when = _time(data, "update_time", store.timezone)
    if kind is None or not request_id or when is None or (kind == REQUESTED and not order_id):
        return []
    shop = _id(payload, "shop_id")
    key = f"{shop}:{TIKTOK_REVERSE_STATUS_CHANGE}:{request_id}:{status}:{when[1]}"
    return [
        AfterSalesEvent(
            platform=store.platform,
            store=store.store_id,
            order_id=order_id,
            request_id=request_id,
            kind=kind,
            at=when[0],
            at_raw=when[1],
            event_key=f"{store.platform}#{store.store_id}#{key}",
            detail=status,
        )
    ]


def _douyin_data(message: Mapping[str, Any]) -> Any:
    raw = message.get("data")
    return _json(raw.encode("utf-8")) if isinstance(raw, str) else raw


def douyin_after_sales(delivery: Delivery, store: Store) -> list[AfterSalesEvent]:
    messages = _json(delivery.body)
    if not isinstance(messages, list):
        return []
    events = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        tag = str(message.get("tag", "")).strip()
        if tag not in DOUYIN_REFUND_TAGS:
            continue
        kind, field = DOUYIN_REFUND_TAGS[tag]
        data, msg_id = _douyin_data(message), _id(message, "msg_id")
        if not isinstance(data, dict) or not msg_id:
            continue
        order_id, request_id = _id(data, "p_id"), _id(data, "aftersale_id")
        when = _time(data, field, store.timezone)
        if not request_id or when is None or (kind == REQUESTED and not order_id):
            continue
        events.append(
            AfterSalesEvent(
                platform=store.platform,
                store=store.store_id,
                order_id=order_id,
                request_id=request_id,
                kind=kind,
                at=when[0],
                at_raw=when[1],
                event_key=f"{store.platform}#{store.store_id}#{msg_id}",
                detail=f"tag {tag}",
            )
        )
    return events


def _shopify_request(topic: str, body: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, request id) for an after-sales topic; ("", "") otherwise."""
    if topic in SHOPIFY_RETURN_TOPICS:
        return_id = _id(body, "id")
        return SHOPIFY_RETURN_TOPICS[topic], f"return-{return_id}" if return_id else ""
    if topic == SHOPIFY_REFUND_TOPIC:
        return_id, refund_id = _id(body.get("return"), "id"), _id(body, "id")
        if return_id:
            return ANSWERED, f"return-{return_id}"
        return ANSWERED, f"refund-{refund_id}" if refund_id else ""
    return "", ""


def shopify_after_sales(delivery: Delivery, store: Store) -> list[AfterSalesEvent]:
    topic = delivery.header("x-shopify-topic")
    webhook_id = delivery.header("x-shopify-webhook-id")
    body = _json(delivery.body)
    if not webhook_id or not isinstance(body, dict):
        return []
    kind, request_id = _shopify_request(topic, body)
    order_id = _id(body.get("order"), "id") or _id(body, "order_id")
    if not request_id or (kind == REQUESTED and not order_id):
        return []
    if topic == SHOPIFY_REFUND_TOPIC:
        at_raw = text(body, "created_at")
        try:
            at = parse_aware(at_raw)
        except ValueError:
            return []
    else:
        at, at_raw = delivery.received_at, delivery.received_at.isoformat()
    return [
        AfterSalesEvent(
            platform=store.platform,
            store=store.store_id,
            order_id=order_id,
            request_id=request_id,
            kind=kind,
            at=at,
            at_raw=at_raw,
            event_key=f"{store.platform}#{store.store_id}#{webhook_id}",
            detail=topic,
        )
    ]


AFTER_SALES_PARSERS: dict[str, Callable[[Delivery, Store], list[AfterSalesEvent]]] = {
    "tiktok": tiktok_after_sales,
    "douyin": douyin_after_sales,
    "shopify": shopify_after_sales,
}


# the own shop, WooCommerce and BigCommerce (channels/after_sales_platforms.py)
AFTER_SALES_PARSERS.update(PLATFORM_PARSERS)


def parse_after_sales(platform: str, delivery: Delivery, store: Store) -> list[AfterSalesEvent]:
    """The after-sales events of a verified delivery; [] for platforms that send none."""
    parser = AFTER_SALES_PARSERS.get(platform)
    return [] if parser is None else parser(delivery, store)
