"""After-sales messages of the platforms channels/after_sales.py does not cover → the same
`AfterSalesEvent`s. Pure Python. Pinduoduo and JD after-sales lists are pulled
(channels/after_sales_pull.py); these are pushed or queued:

WooCommerce (order webhooks, `X-WC-Webhook-Topic` order.created / order.updated)
    WooCommerce has no refund topic: a refund saves the order, whose REST body lists
    `refunds: [{id, reason, total}]`. Each refund listed is the seller's act → answered
    (`refund-<id>`, at the order's `date_modified_gmt`, naive UTC): it counts in the chase
    rate's volume and never waits. Dedupe key `woocommerce#{store}#refund-<id>`.
BigCommerce (`store/order/refund/created`)
    `data: {type: "order", id: <order id>, refund: {refund_id}}` → answered (`refund-<id>`, at
    `created_at`, Unix seconds). Dedupe key `bigcommerce#{store}#{webhook-id}`.
Own shop (mall; OrderHub's contract, Standard Webhooks signed)
    `{"type": "refund.requested" | "refund.approved" | "refund.rejected" | "refund.refunded",
    "timestamp", "data": {"order_id", "refund_id", "updated_at" (ISO 8601 with offset),
    "reason"?}}`: requested opens a request waiting for an answer; the three others answer
    it. These are validated like order messages (400 naming the field). Dedupe key
    `mall#{store}#{webhook-id}`.
Taobao/Tmall (TMC topics `taobao_refund_*`)
    content `{refund_id, tid, oid, refund_fee, refund_phase, modified, ...}` (`modified` is
    Beijing wall-clock text; the message's `pub_time` when absent). Requested:
    `taobao_refund_RefundCreated`. Answered: `RefundSellerAgreeAgreement`,
    `RefundSellerRefuseAgreement`, `RefundSuccess`, `RefundClosed`. Other refund topics
    (buyer modified the request, returned goods, messages) are not mapped. Dedupe key
    `taobao#{store}#tmc:{message id}`.
Amazon (SP-API ORDER_CHANGE through our queue)
    A buyer's cancellation request is an ORDER_CHANGE with `OrderChangeType`
    `BuyerRequestedChange` and an item `IsBuyerRequestedCancel: true` → requested
    (`cancel-<AmazonOrderId>`, at `OrderChangeTrigger.TimeOfOrderChange`); a later
    ORDER_CHANGE of that order whose `OrderStatus` is Canceled or Shipped while an item still
    carries the flag → answered (the seller cancelled, or shipped instead). Amazon's returns
    are not notified through ORDER_CHANGE (they come in return reports): not covered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.channels.base import Delivery, platform_time
from chalicelib.domain.after_sales import ANSWERED, REQUESTED, AfterSalesEvent
from chalicelib.domain.bounds import check_json_depth
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.ports import Store
from chalicelib.domain.timeutil import parse_aware, parse_in_zone

MALL_REFUND_TYPES = {
    "refund.requested": REQUESTED,
    "refund.approved": ANSWERED,
    "refund.rejected": ANSWERED,
    "refund.refunded": ANSWERED,
}
BIGCOMMERCE_REFUND_SCOPE = "store/order/refund/created"
WOO_ORDER_TOPICS = frozenset({"order.created", "order.updated", "order.restored"})
TAOBAO_REFUND_TOPICS = {
    "taobao_refund_RefundCreated": REQUESTED,
    "taobao_refund_RefundSellerAgreeAgreement": ANSWERED,
    "taobao_refund_RefundSellerRefuseAgreement": ANSWERED,
    "taobao_refund_RefundSuccess": ANSWERED,
    "taobao_refund_RefundClosed": ANSWERED,
}
AMAZON_ANSWERING_STATUSES = frozenset({"Canceled", "Shipped"})
BEIJING = "Asia/Shanghai"


def _json(body: bytes) -> Any:
    try:
        check_json_depth(body)  # nesting limited before parsing (domain/bounds.py)
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, InvalidPayload):
        return None


def _id(obj: Any, key: str) -> str:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return ""
    return str(value).strip()


def _event(
    store: Store,
    order_id: str,
    request_id: str,
    kind: str,
    at: datetime,
    at_raw: str,
    key: str,
    detail: str,
) -> AfterSalesEvent:
    return AfterSalesEvent(
        platform=store.platform,
        store=store.store_id,
        order_id=order_id,
        request_id=request_id,
        kind=kind,
        at=at,
        at_raw=at_raw,
        event_key=f"{store.platform}#{store.store_id}#{key}",
        detail=detail,
    )


def is_mall_refund(body: bytes) -> bool:
    """Whether an own-shop delivery is an after-sales message (no order event in it)."""
    payload = _json(body)
    return isinstance(payload, dict) and payload.get("type") in MALL_REFUND_TYPES


def mall_after_sales(delivery: Delivery, store: Store) -> list[AfterSalesEvent]:
    payload = _json(delivery.body)
    if not isinstance(payload, dict) or payload.get("type") not in MALL_REFUND_TYPES:
        return []
    kind = MALL_REFUND_TYPES[str(payload["type"])]
    data = payload.get("data")
    if not isinstance(data, dict):
        raise InvalidPayload("$.data is required (an object)")
    order_id, refund_id = _id(data, "order_id"), _id(data, "refund_id")
    if not order_id:
        raise InvalidPayload("$.data.order_id is required")
    if not refund_id:
        raise InvalidPayload("$.data.refund_id is required")
    raw = data.get("updated_at")
    try:
        at = parse_aware(str(raw or ""))
    except ValueError as exc:
        raise InvalidPayload(f"$.data.updated_at: {exc}") from None
    webhook_id = delivery.header("webhook-id") or delivery.digest
    return [
        _event(store, order_id, refund_id, kind, at, str(raw), webhook_id, str(payload["type"]))
    ]


def woocommerce_after_sales(delivery: Delivery, store: Store) -> list[AfterSalesEvent]:
    topic = delivery.header("x-wc-webhook-topic")
    payload = _json(delivery.body)
    if topic not in WOO_ORDER_TOPICS or not isinstance(payload, dict):
        return []
    refunds = payload.get("refunds")
    order_id = _id(payload, "id")
    raw = payload.get("date_modified_gmt")
    if not isinstance(refunds, list) or not refunds or not order_id or not isinstance(raw, str):
        return []
    try:
        at = parse_in_zone(raw, "UTC")
    except ValueError:
        return []
    events = []
    for refund in refunds:
        refund_id = _id(refund, "id")
        if refund_id:
            request = f"refund-{refund_id}"
            events.append(_event(store, order_id, request, ANSWERED, at, raw, request, topic))
    return events


def bigcommerce_after_sales(delivery: Delivery, store: Store) -> list[AfterSalesEvent]:
    payload = _json(delivery.body)
    if not isinstance(payload, dict) or payload.get("scope") != BIGCOMMERCE_REFUND_SCOPE:
        return []
    data = payload.get("data")
    order_id = _id(data, "id")
    refund_id = _id(data.get("refund") if isinstance(data, dict) else None, "refund_id")
    webhook_id = delivery.header("webhook-id")
    if not order_id or not refund_id or not webhook_id:
        return []
    try:
        at, at_raw = platform_time(payload, "created_at", "$", "UTC")
    except InvalidPayload:
        at, at_raw = delivery.received_at, delivery.received_at.isoformat()
    return [
        _event(
            store,
            order_id,
            f"refund-{refund_id}",
            ANSWERED,
            at,
            at_raw,
            webhook_id,
            BIGCOMMERCE_REFUND_SCOPE,
        )
    ]


def taobao_after_sales(
    message_id: str, topic: str, content: Mapping[str, Any], pub_time: str, store: Store
) -> list[AfterSalesEvent]:
    """A TMC refund message's event; [] for other topics or incomplete content."""
    kind = TAOBAO_REFUND_TOPICS.get(topic)
    order_id, refund_id = _id(content, "tid"), _id(content, "refund_id")
    if kind is None or not refund_id or (kind == REQUESTED and not order_id):
        return []
    raw = str(content.get("modified") or pub_time or "")
    try:
        at = parse_in_zone(raw, BEIJING)
    except ValueError:
        return []
    short = topic.removeprefix("taobao_refund_")
    return [_event(store, order_id, refund_id, kind, at, raw, f"tmc:{message_id}", short)]


def amazon_after_sales(body: str, store: Store) -> list[AfterSalesEvent]:
    """A buyer's cancellation request (or its answer) in an ORDER_CHANGE notification."""
    document = _json(body.encode("utf-8"))
    if not isinstance(document, dict):
        return []
    change = (document.get("Payload") or {}).get("OrderChangeNotification")
    notification_id = _id(document.get("NotificationMetadata"), "NotificationId")
    if not isinstance(change, dict) or not notification_id:
        return []
    order_id = _id(change, "AmazonOrderId")
    summary_raw = change.get("Summary")
    summary: Mapping[str, Any] = summary_raw if isinstance(summary_raw, dict) else {}
    items_raw = summary.get("OrderItems")
    items: list[Any] = items_raw if isinstance(items_raw, list) else []
    flagged = any(isinstance(i, dict) and i.get("IsBuyerRequestedCancel") is True for i in items)
    if not order_id or not flagged:
        return []
    status = str(summary.get("OrderStatus") or "")
    if change.get("OrderChangeType") == "BuyerRequestedChange":
        kind = ANSWERED if status in AMAZON_ANSWERING_STATUSES else REQUESTED
    elif status in AMAZON_ANSWERING_STATUSES:
        kind = ANSWERED
    else:
        return []
    trigger = change.get("OrderChangeTrigger") or {}
    raw = str((trigger if isinstance(trigger, dict) else {}).get("TimeOfOrderChange") or "")
    raw = raw or str(document.get("EventTime") or "")
    try:
        at = parse_aware(raw)
    except ValueError:
        return []
    detail = f"{change.get('OrderChangeType')}: {status}"
    return [_event(store, order_id, f"cancel-{order_id}", kind, at, raw, notification_id, detail)]


PLATFORM_PARSERS: dict[str, Callable[[Delivery, Store], list[AfterSalesEvent]]] = {
    "mall": mall_after_sales,
    "woocommerce": woocommerce_after_sales,
    "bigcommerce": bigcommerce_after_sales,
}
