"""Douyin Shop (抖店) order.orderDetail, as OrderHub asks and reads it. Pure.

A Douyin push message carries the order id and a tag (douyin.py: a thin event). Before it is
booked, the processor fetches the order (domain/details.py; HTTP in
adapters/platform_api.py `DouyinOrderApi`). This module builds the request and reads the
answer; it does no I/O.

Request
    `POST {base}/order/orderDetail?app_key=…&method=order.orderDetail&access_token=…
    &timestamp=yyyy-MM-dd HH:mm:ss&v=2&sign_method=hmac-sha256&sign=…`, body (and signed
    `param_json`) `{"shop_order_id":"…"}`, `Content-Type: application/json`; `timestamp` is
    Beijing time; `sign` per douyin_api_signature.py, HMAC-SHA256 with the store's current app
    secret (the first of `app_secrets` during a rotation). Base URL `ORDERHUB_DOUYIN_API_URL`,
    default `https://openapi-fxg.jinritemai.com`. Store secret: `{"app_key", "app_secret"
    (or "app_secrets"), "access_token"}` (+ the push's optional `shop_id`).

Answer
    `{"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "log_id": "…", "data":
    {"shop_order_detail": {…}}}`. Any other code is a refusal (`douyin_refusal`: code, msg,
    sub_code, sub_msg for the adapter to report). A success without `shop_order_detail` means
    Douyin has no such order (`parse_douyin_answer` gives None). Sources: fudiwei/
    DotNetCore.SKIT.FlurlHttpClient.ByteDance Models/Order/OrderDetailResponse.cs and
    OrderSearchListResponse.cs (the fields below), minibear2021/doudian (the envelope).

Order → details (`parse_douyin_order`, errors name the field:
`$.data.shop_order_detail.sku_order_list[0].item_num`)
    Status `order_status`, consistent with the push tags (douyin.py): 1 (to pay; cash on
    delivery: to confirm), 103 (partly paid: a presale deposit) → unpaid; 105 (paid), 2 (being
    prepared) → paid; 101 (partly shipped), 3 (shipped), 5 (completed) → shipped; 4
    (cancelled) → cancelled. Another value → the fetch fails naming the field (retried, then
    the DLQ). Time `update_time` (Unix seconds → UTC, text kept). Currency CNY.
    Lines: each `sku_order_list` entry: SKU its `code` (the seller's SKU code), else the
    platform's `sku_id` as text; quantity `item_num`; unit price `origin_amount` (the SKU's
    current price, 分), else `sum_amount` (the line's total, 分) / `item_num`. Money is in fen
    (integer cents) and becomes yuan exactly: 8800 → Decimal("88.00"). Buyer (personal data,
    never logged): `post_receiver`, `post_tel`, `post_addr` (province, city, town, street names
    and `detail`) where Douyin sends them in clear; its encrypted forms (`encrypt_post_*`,
    `post_addr.encrypt_detail`, decrypted only through order.batchDecrypt) are not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.channels.base import (
    MAX_LINES,
    api_fields,
    buyer_or_none,
    check_kind,
    id_text,
    joined,
    optional,
    per_unit,
    platform_time,
    require,
    text,
)
from chalicelib.channels.douyin import DouyinChannel
from chalicelib.channels.douyin_api_signature import API_VERSION, douyin_api_sign, param_json
from chalicelib.domain.details import OrderDetails, OrderDetailsUnavailable
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import OrderLine, PlatformStatus

PLATFORM = DouyinChannel.platform
ORDER_DETAIL_PATH = "/order/orderDetail"
ORDER_DETAIL_METHOD = "order.orderDetail"
SIGN_METHOD = "hmac-sha256"
SUCCESS_CODE = "10000"
CURRENCY = "CNY"
BEIJING = ZoneInfo("Asia/Shanghai")
SECRET_FIELDS = "app_key, app_secret and access_token"
STATUSES = {
    "1": PlatformStatus.UNPAID,  # 待支付 (cash on delivery: 待确认)
    "103": PlatformStatus.UNPAID,  # 部分支付: a presale deposit, the balance still owed
    "105": PlatformStatus.PAID,  # 已支付
    "2": PlatformStatus.PAID,  # 备货中
    "101": PlatformStatus.SHIPPED,  # 部分发货
    "3": PlatformStatus.SHIPPED,  # 已发货
    "5": PlatformStatus.SHIPPED,  # 已完成
    "4": PlatformStatus.CANCELLED,  # 已取消
}


@dataclass(frozen=True)
class DouyinApiCredentials:
    """What an API call needs from the store's secret. Never logged."""

    app_key: str
    app_secret: str  # the current one: outbound calls are signed with the newest
    access_token: str

    def __repr__(self) -> str:  # the dataclass default would print the secrets
        return f"DouyinApiCredentials(app_key={self.app_key!r}, ...)"


def douyin_api_credentials(secret: Mapping[str, Any]) -> DouyinApiCredentials:
    """The API credentials from the store's (effective) secret; OrderDetailsUnavailable
    naming the missing fields (fix the secret; the retry then succeeds)."""
    values, missing = api_fields(secret, ("app_key", "app_secret", "access_token"))
    if missing:
        raise OrderDetailsUnavailable(
            f"the Douyin store's secret lacks {', '.join(missing)}: fetching order details "
            f"needs {SECRET_FIELDS} (docs/platforms.md); retrying"
        )
    return DouyinApiCredentials(**values)


def beijing_timestamp(now: datetime) -> str:
    """`now` as Douyin's `timestamp`: "yyyy-MM-dd HH:mm:ss", Beijing time."""
    return now.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def order_detail_request(
    order_id: str, credentials: DouyinApiCredentials, now: datetime
) -> tuple[dict[str, str], bytes]:
    """The signed query and the body (`param_json`) of order.orderDetail for one order."""
    body = param_json({"shop_order_id": order_id})
    query = {
        "app_key": credentials.app_key,
        "method": ORDER_DETAIL_METHOD,
        "access_token": credentials.access_token,
        "timestamp": beijing_timestamp(now),
        "v": API_VERSION,
        "sign_method": SIGN_METHOD,
    }
    query["sign"] = douyin_api_sign(
        credentials.app_key,
        credentials.app_secret,
        ORDER_DETAIL_METHOD,
        body,
        query["timestamp"],
        API_VERSION,
        SIGN_METHOD,
    )
    return query, body.encode("utf-8")


# ---- the answer ------------------------------------------------------------------------------


def douyin_refusal(payload: Any) -> str | None:
    """ "code N: msg (sub_code: sub_msg)" when the answer is a refusal (code other than
    10000), else None. InvalidPayload when it is not Douyin's envelope at all."""
    if not isinstance(payload, dict):
        raise InvalidPayload("the answer must be a JSON object")
    code = payload.get("code")
    if isinstance(code, bool) or not isinstance(code, int | str) or str(code).strip() == "":
        raise InvalidPayload("$.code is required (Douyin's answer envelope)")
    if str(code).strip() == SUCCESS_CODE:
        return None
    detail = joined((text(payload, "sub_code"), text(payload, "sub_msg")), ": ")
    message = text(payload, "msg") or "no msg"
    return f"code {str(code).strip()}: {message}" + (f" ({detail})" if detail else "")


def parse_douyin_answer(order_id: str, payload: Any) -> OrderDetails | None:
    """The details of `order_id` from a successful answer; None when Douyin has no such
    order. InvalidPayload names the field."""
    data = optional(payload, "data", "$", dict) or {}
    order = optional(data, "shop_order_detail", "$.data", dict)
    if not order:
        return None
    path = "$.data.shop_order_detail"
    if id_text(order, "order_id", path) != order_id:
        raise InvalidPayload(f"{path}.order_id is {order.get('order_id')}, not {order_id}")
    return parse_douyin_order(order, path)


def fen(obj: Mapping[str, Any], key: str, path: str) -> Decimal:
    """An amount in fen (分: integer cents, as an integer or digits) as exact yuan."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if value is None:
        raise InvalidPayload(f"{path}.{key} is required")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidPayload(f"{path}.{key} must be a whole number of fen (分), such as 8800")
    return Decimal(value).scaleb(-2)


def _status(order: Mapping[str, Any], path: str) -> PlatformStatus:
    value = id_text(order, "order_status", path)
    if value not in STATUSES:
        known = ", ".join(STATUSES)
        raise InvalidPayload(f"{path}.order_status {value} is not a known status ({known})")
    return STATUSES[value]


def _line(raw: Any, path: str) -> OrderLine:
    item = check_kind(raw, path, dict)
    sku = text(item, "code") or id_text(item, "sku_id", path)
    count = require(item, "item_num", path, int)
    if count <= 0:
        raise InvalidPayload(f"{path}.item_num must be a positive integer")
    if item.get("origin_amount") is not None:
        return OrderLine(sku, int(count), fen(item, "origin_amount", path))
    return OrderLine(sku, int(count), per_unit(fen(item, "sum_amount", path), int(count)))


def _area(address: Mapping[str, Any], key: str) -> str:
    area = address.get(key)
    return text(area, "name") if isinstance(area, Mapping) else ""


def parse_douyin_order(order: Mapping[str, Any], path: str = "$") -> OrderDetails:
    """order.orderDetail's `shop_order_detail` as OrderHub's details (module docstring)."""
    status = _status(order, path)
    updated_at, updated_at_raw = platform_time(order, "update_time", path, "Asia/Shanghai")
    items = require(order, "sku_order_list", path, list)
    if len(items) > MAX_LINES:
        raise InvalidPayload(f"{path}.sku_order_list has {len(items)} entries; at most {MAX_LINES}")
    lines = tuple(_line(raw, f"{path}.sku_order_list[{i}]") for i, raw in enumerate(items))
    address = optional(order, "post_addr", path, dict) or {}
    buyer = buyer_or_none(
        text(order, "post_receiver"),
        text(order, "post_tel"),
        joined(
            (
                *(_area(address, key) for key in ("province", "city", "town", "street")),
                text(address, "detail"),
            ),
            " ",
        ),
    )
    return OrderDetails(status, updated_at, updated_at_raw, CURRENCY, lines, buyer)
