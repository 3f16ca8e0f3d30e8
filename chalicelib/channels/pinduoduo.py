"""Pinduoduo (拼多多) through its open platform router: incremental order queries.

OrderHub pulls `pdd.order.number.list.increment.get` by time window (chalicelib/domain/
polling.py: cursor, overlap, settle lag, pages read newest first). There is no webhook URL;
a store's secret holds `client_id` (or `app_key`), `client_secret` (or `app_secret`) and the
mall's `access_token` (chalicelib/channels/pull.py).

Requests (POST, form-encoded, to ORDERHUB_PDD_API_URL, default
https://gw-api.pinduoduo.com/api/router)
    `type`, `client_id`, `access_token`, `timestamp` (Unix seconds), `data_type=JSON`, the
    business parameters, `sign`. `sign_pdd`: upper-case hex MD5(client_secret + every
    parameter name followed by its value, sorted by name + client_secret). Source: Cherrs/
    pdd-rs src/lib.rs `add_sign` (the same scheme as TOP's md5); vectors in the tests are
    DERIVED.
    Business parameters: `start_updated_at` / `end_updated_at` (Unix seconds; the span may be
    at most 30 minutes), `is_lucky_flag=0`, `order_status=5`, `refund_status=5` (all),
    `page`, `page_size=100` (the maximum), `use_has_next=false` (so the answer carries
    `total_count`, needed to read the last page first). Source: pdd-rs
    src/requests/pdd_order_number_list_increment_get.rs, whose doc comment carries the
    platform's advice: page from the last page backwards, and keep the end at least 3
    minutes behind Pinduoduo's clock. (Its wording, "结束时间不小于拼多多系统时间前3min",
    reads literally as "not earlier than now − 3 min"; we follow the common reading, the end
    3 minutes *behind* the clock, which can only make us later, never miss an update.)

Answers
    `order_sn_increment_get_response` {`total_count`, `has_next`, `order_sn_list[]`} (field
    names and meanings: the platform's Java SDK, pop-sdk PddOrderNumberListIncrementGetResponse,
    as published in pdd-utils/pdd-utils-webflux). Money fields are JSON numbers (read as
    Decimal, never through float).
    Errors: `error_response` {`error_code`, `error_msg`, `sub_code`, `sub_msg`}. We found no
    primary table of the codes, so the wording decides (pull.py `classify_refusal`):
    token/signature/authorization → bad credentials (alarm), rate limits and system errors →
    retried on the next run, anything else → refused (alarm).

Order → canonical event (`complete`)
    - key `pinduoduo#{store}#{order_sn}:{order_status}:{refund_status}:{updated_at}`: the
      order's state, so the overlap between windows and any re-read give the same key.
    - status: `refund_status` 4 (refund succeeded) → refunded; `confirm_status` 2 (cancelled)
      → cancelled; else `order_status` 1 (waiting to ship) → paid, 2 (shipped) and 3
      (received) → shipped. The API lists orders once paid, so there is no unpaid state;
      refunds in progress (2, 3) keep the order as it is until they succeed. Any other
      order_status is refused (the order is recorded as rejected, naming it).
    - time: `updated_at`, naive text in the store's zone (Asia/Shanghai), kept as received.
    - lines: `item_list[]`; SKU `outer_id` (the seller's SKU code), else `outer_goods_id`,
      else `sku_id`, else `goods_id` as text; quantity `goods_count`; unit price
      `goods_price`.
    - buyer: `receiver_name`, `receiver_phone`, `address` (else province, city, town and
      `receiver_address`); each falls back to its `*_mask` field. Pinduoduo returns these
      encrypted (or empty) for most orders: kept as given. Currency CNY.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib.channels.base import (
    buyer_or_none,
    check_kind,
    id_text,
    joined,
    money,
    quantity,
    require,
    text,
    zoned_time,
)
from chalicelib.channels.pull import (
    PullCredentials,
    classify_refusal,
    parse_order_list,
    sorted_concat,
)
from chalicelib.domain.errors import InvalidPayload, OrderHubError
from chalicelib.domain.model import OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.polling import Page, PlatformUnavailable, Window
from chalicelib.domain.ports import Store

PLATFORM = "pinduoduo"
DEFAULT_API_URL = "https://gw-api.pinduoduo.com/api/router"
INCREMENT = "pdd.order.number.list.increment.get"
RESPONSE = "order_sn_increment_get_response"
PAGE_SIZE = 100
MAX_WINDOW_SECONDS = 30 * 60
EVENT_TYPES = {
    PlatformStatus.PAID: "paid",
    PlatformStatus.SHIPPED: "shipped",
    PlatformStatus.CANCELLED: "cancelled",
    PlatformStatus.REFUNDED: "refunded",
}


def sign_pdd(params: Mapping[str, str], client_secret: str) -> str:
    """Pinduoduo's `sign` over the request parameters (see the module docstring)."""
    message = client_secret + sorted_concat(params, skip_empty=False) + client_secret
    return hashlib.md5(message.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def pdd_request(
    api_type: str, business: Mapping[str, str], credentials: PullCredentials, now: datetime
) -> dict[str, str]:
    params = {
        "type": api_type,
        "client_id": credentials.app_key,
        "access_token": credentials.session,
        "timestamp": str(int(now.timestamp())),
        "data_type": "JSON",
        **business,
    }
    params["sign"] = sign_pdd(params, credentials.app_secret)
    return params


def increment_request(
    window: Window, page: int, credentials: PullCredentials, now: datetime
) -> dict[str, str]:
    start, end = int(window.start.timestamp()), int(window.end.timestamp())
    if end - start > MAX_WINDOW_SECONDS:
        raise ValueError(f"a Pinduoduo window spans at most {MAX_WINDOW_SECONDS} s")
    business = {
        "start_updated_at": str(start),
        "end_updated_at": str(end),
        "is_lucky_flag": "0",
        "order_status": "5",
        "refund_status": "5",
        "page": str(page),
        "page_size": str(PAGE_SIZE),
        "use_has_next": "false",
    }
    return pdd_request(INCREMENT, business, credentials, now)


def pdd_error(error: Any) -> OrderHubError:
    error = error if isinstance(error, Mapping) else {}
    wording = " ".join(
        str(error.get(k) or "") for k in ("error_msg", "sub_code", "sub_msg", "error_code")
    )
    detail = (
        f"Pinduoduo answered error {error.get('error_code', '?')} "
        f"{error.get('error_msg') or ''} ({error.get('sub_code') or 'no sub_code'}: "
        f"{error.get('sub_msg') or ''})"
    )
    return classify_refusal(detail, wording)


def pdd_answer(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise PlatformUnavailable("Pinduoduo answered something that is not a JSON object")
    if "error_response" in payload:
        raise pdd_error(payload["error_response"])
    answer = payload.get(RESPONSE)
    if not isinstance(answer, Mapping):
        raise PlatformUnavailable(f"Pinduoduo's answer lacks {RESPONSE}")
    return answer


def _small_int(obj: Mapping[str, Any], key: str, path: str, default: int | None = None) -> int:
    value = obj.get(key)
    if value is None and default is not None:
        return default
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return int(require(obj, key, path, int))


def _status(order: Mapping[str, Any], path: str) -> tuple[PlatformStatus, int, int]:
    order_status = _small_int(order, "order_status", path)
    refund_status = _small_int(order, "refund_status", path, default=1)
    confirm_status = _small_int(order, "confirm_status", path, default=1)
    if refund_status == 4:
        return PlatformStatus.REFUNDED, order_status, refund_status
    if confirm_status == 2:
        return PlatformStatus.CANCELLED, order_status, refund_status
    if order_status == 1:
        return PlatformStatus.PAID, order_status, refund_status
    if order_status in (2, 3):
        return PlatformStatus.SHIPPED, order_status, refund_status
    raise InvalidPayload(f"{path}.order_status {order_status} is not 1, 2 or 3")


def _line(raw: Any, path: str) -> OrderLine | None:
    check_kind(raw, path, dict)
    sku = text(raw, "outer_id") or text(raw, "outer_goods_id")
    for fallback in ("sku_id", "goods_id"):
        if not sku and raw.get(fallback) not in (None, ""):
            sku = id_text(raw, fallback, path)
    if not sku:
        raise InvalidPayload(f"{path} has no outer_id, outer_goods_id, sku_id or goods_id")
    count = quantity(raw, "goods_count", path)
    return OrderLine(sku, count, money(raw, "goods_price", path)) if count else None


def _either(order: Mapping[str, Any], key: str) -> str:
    return text(order, key) or text(order, f"{key}_mask")


def order_event(
    order: Mapping[str, Any], path: str, store: Store, received_at: datetime
) -> OrderEvent:
    """One listed order as a canonical event."""
    order_sn = id_text(order, "order_sn", path)
    status, order_status, refund_status = _status(order, path)
    updated_at, updated_at_raw = zoned_time(order, "updated_at", path, store.timezone)
    items = require(order, "item_list", path, list)
    lines = [
        line
        for i, raw in enumerate(items)
        if (line := _line(raw, f"{path}.item_list[{i}]")) is not None
    ]
    if not lines and status not in (PlatformStatus.CANCELLED, PlatformStatus.REFUNDED):
        raise InvalidPayload(f"{path}.item_list has no line with a quantity")
    address = text(order, "address") or joined(
        (text(order, k) for k in ("province", "city", "town", "receiver_address")), " "
    )
    buyer = buyer_or_none(
        _either(order, "receiver_name"),
        _either(order, "receiver_phone"),
        address or text(order, "address_mask") or text(order, "receiver_address_mask"),
    )
    return OrderEvent(
        event_key=(
            f"{PLATFORM}#{store.store_id}#{order_sn}:{order_status}:{refund_status}:"
            f"{updated_at_raw}"
        ),
        platform=store.platform,
        store=store.store_id,
        order_id=order_sn,
        event_type=EVENT_TYPES[status],
        status=status,
        updated_at=updated_at,
        updated_at_raw=updated_at_raw,
        currency="CNY",
        lines=tuple(lines),
        buyer=buyer,
        received_at=received_at,
    )


def parse_increment_page(payload: Any, raw_text: str, store: Store, received_at: datetime) -> Page:
    """One answer page: its events, the orders that can never be booked (recorded as
    rejected, so one bad order does not hold the cursor back for good), and the total."""
    answer = pdd_answer(payload)
    return parse_order_list(
        answer.get("order_sn_list") or [],
        answer.get("total_count"),
        f"$.{RESPONSE}.order_sn_list",
        PLATFORM,
        store,
        received_at,
        raw_text,
        order_event,
        "order_sn",
        "updated_at",
    )
