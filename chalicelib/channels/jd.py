"""JD (京东) POP stores through the JOS router: incremental order search.

OrderHub pulls `jingdong.pop.order.search` by modification-time window (chalicelib/domain/
polling.py: cursor, overlap, settle lag, pages read newest first). There is no webhook URL;
a store's secret holds `app_key`, `app_secret` and the shop's `access_token`
(chalicelib/channels/pull.py).

Requests (POST, form-encoded, to ORDERHUB_JD_API_URL, default https://api.jd.com/routerjson)
    System parameters `method`, `app_key`, `access_token`, `timestamp` ("yyyy-MM-dd HH:mm:ss",
    GMT+8), `v=2.0`, and the business parameters as one JSON text, `360buy_param_json`;
    `sign_jd`: upper-case hex MD5(app_secret + every parameter name followed by its value,
    sorted by name + app_secret), the JSON text signed exactly as sent. Sources: public JOS
    clients (a Kotlin one, "JdPorter", and a Python one, both building
    secret + sorted key+value + secret over these six parameters); the same scheme as TOP's
    md5. Vectors in the tests are DERIVED.
    Business parameters: `start_date` / `end_date` (text in the store's zone, Asia/Shanghai),
    `dateType=0` (by modification time: "0按修改时间查询，1为按订单创建时间查询" in the JOS SDK's
    PopOrderSearchRequest comments), `order_state` (every state below), `optional_fields`,
    `page`, `page_size=100`, `sortType=0` (ascending).

Answers
    `jingdong_pop_order_search_responce.searchorderinfo_result` {`apiResult` {success,
    chineseErrCode, englistErrCode}, `orderTotal`, `orderInfoList[]`} (the platform's own
    spelling, "responce"). Errors: `error_response` {`code`, `zh_desc`, `en_desc`}, or
    `apiResult.success` false. We found no primary table of JOS codes, so the wording decides
    (pull.py `classify_refusal`): token/signature/app key → bad credentials (alarm), limits
    and system errors → retried on the next run, anything else → refused (alarm).

Order → canonical event (`complete`)
    - key `jd#{store}#{orderId}:{orderState}:{modified}`: the order's state, so the overlap
      between windows and any re-read give the same key.
    - status: WAIT_SELLER_STOCK_OUT (waiting to leave the warehouse), WAIT_SELLER_DELIVERY
      (cross-border, waiting for domestic delivery), PAUSE, POP_ORDER_PAUSE, LOCKED (held
      by JD, e.g. a cancellation under review) → paid; WAIT_GOODS_RECEIVE_CONFIRM,
      FINISHED_L → shipped; TRADE_CANCELED → cancelled. POP orders are listed once paid, so
      there is no unpaid state. Any other state is refused (recorded as rejected, naming it).
    - time: `modified`, naive text in the store's zone (Asia/Shanghai), kept as received.
    - lines: `itemInfoList[]`; SKU `outerSkuId` (the seller's code), else `skuId` as text;
      quantity `itemTotal` (JOS sends it as digits text); unit price `jdPrice` (decimal text,
      the price before discounts).
    - buyer: `consigneeInfo` `fullname`, `mobile` (else `telephone`), `fullAddress` (else
      province, city, county, town). JD may return these masked or encrypted: kept as given.
      Currency CNY.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.channels.base import (
    buyer_or_none,
    check_kind,
    id_text,
    joined,
    money,
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
from chalicelib.domain.timeutil import zone

PLATFORM = "jd"
DEFAULT_API_URL = "https://api.jd.com/routerjson"
SEARCH = "jingdong.pop.order.search"
RESPONSE = "jingdong_pop_order_search_responce"
PAGE_SIZE = 100
DATE_MODIFIED, DATE_CREATED = "0", "1"  # `dateType`: 0 by modification, 1 by creation time
PLATFORM_ZONE = ZoneInfo("Asia/Shanghai")  # JOS's `timestamp` is GMT+8
STATES: dict[str, PlatformStatus] = {
    "WAIT_SELLER_STOCK_OUT": PlatformStatus.PAID,
    "WAIT_SELLER_DELIVERY": PlatformStatus.PAID,
    "PAUSE": PlatformStatus.PAID,
    "POP_ORDER_PAUSE": PlatformStatus.PAID,
    "LOCKED": PlatformStatus.PAID,
    "WAIT_GOODS_RECEIVE_CONFIRM": PlatformStatus.SHIPPED,
    "FINISHED_L": PlatformStatus.SHIPPED,
    "TRADE_CANCELED": PlatformStatus.CANCELLED,
}
EVENT_TYPES = {
    PlatformStatus.PAID: "paid",
    PlatformStatus.SHIPPED: "shipped",
    PlatformStatus.CANCELLED: "cancelled",
}
OPTIONAL_FIELDS = ",".join(
    (
        "orderId",
        "orderState",
        "orderTotalPrice",
        "orderPayment",
        "modified",
        "orderStartTime",
        "paymentConfirmTime",
        "consigneeInfo",
        "itemInfoList",
    )
)


def sign_jd(params: Mapping[str, str], app_secret: str) -> str:
    """JOS's `sign` over the request parameters (see the module docstring)."""
    message = app_secret + sorted_concat(params) + app_secret
    return hashlib.md5(message.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


def jos_time(moment: datetime, zone_name: str | None = None) -> str:
    tz = zone(zone_name) if zone_name else PLATFORM_ZONE
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def jd_request(
    method: str, business: Mapping[str, str], credentials: PullCredentials, now: datetime
) -> dict[str, str]:
    params = {
        "method": method,
        "app_key": credentials.app_key,
        "access_token": credentials.session,
        "timestamp": jos_time(now),
        "v": "2.0",
        "360buy_param_json": json.dumps(
            dict(business), separators=(",", ":"), ensure_ascii=False, sort_keys=True
        ),
    }
    params["sign"] = sign_jd(params, credentials.app_secret)
    return params


def search_request(
    window: Window,
    page: int,
    credentials: PullCredentials,
    now: datetime,
    zone_name: str,
    date_type: str = DATE_MODIFIED,
) -> dict[str, str]:
    """The search for one page of a window: by modification time (the pollers), or by
    creation time (`DATE_CREATED`: the reconciliation's list of a day's orders)."""
    business = {
        "start_date": jos_time(window.start, zone_name),
        "end_date": jos_time(window.end, zone_name),
        "dateType": date_type,
        "order_state": ",".join(STATES),
        "optional_fields": OPTIONAL_FIELDS,
        "page": str(page),
        "page_size": str(PAGE_SIZE),
        "sortType": "0",
    }
    return jd_request(SEARCH, business, credentials, now)


def jd_error(error: Any) -> OrderHubError:
    error = error if isinstance(error, Mapping) else {}
    wording = " ".join(str(error.get(k) or "") for k in ("en_desc", "zh_desc", "code"))
    detail = (
        f"JD answered error {error.get('code', '?')}: "
        f"{error.get('en_desc') or ''} {error.get('zh_desc') or ''}".rstrip()
    )
    return classify_refusal(detail, wording)


def jd_answer(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise PlatformUnavailable("JD answered something that is not a JSON object")
    if "error_response" in payload:
        raise jd_error(payload["error_response"])
    outer = payload.get(RESPONSE)
    result = outer.get("searchorderinfo_result") if isinstance(outer, Mapping) else None
    if not isinstance(result, Mapping):
        raise PlatformUnavailable(f"JD's answer lacks {RESPONSE}.searchorderinfo_result")
    api_result = result.get("apiResult")
    if isinstance(api_result, Mapping) and api_result.get("success") is False:
        raise jd_error(
            {
                "code": api_result.get("numberCode", "?"),
                "en_desc": api_result.get("englistErrCode") or api_result.get("englishErrCode"),
                "zh_desc": api_result.get("chineseErrCode"),
            }
        )
    return result


def _count(raw: Mapping[str, Any], key: str, path: str) -> int:
    value = raw.get(key)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise InvalidPayload(f"{path}.{key} must be a whole number (digits)")


def _line(raw: Any, path: str) -> OrderLine | None:
    check_kind(raw, path, dict)
    sku = text(raw, "outerSkuId")
    if not sku and raw.get("skuId") not in (None, ""):
        sku = id_text(raw, "skuId", path)
    if not sku:
        raise InvalidPayload(f"{path} has no outerSkuId or skuId")
    count = _count(raw, "itemTotal", path)
    return OrderLine(sku, count, money(raw, "jdPrice", path)) if count else None


def order_event(
    order: Mapping[str, Any], path: str, store: Store, received_at: datetime
) -> OrderEvent:
    order_id = id_text(order, "orderId", path)
    state = require(order, "orderState", path, str)
    status = STATES.get(state)
    if status is None:
        raise InvalidPayload(f"{path}.orderState '{state}' is not one of {', '.join(STATES)}")
    updated_at, updated_at_raw = zoned_time(order, "modified", path, store.timezone)
    items = require(order, "itemInfoList", path, list)
    lines = [
        line
        for i, raw in enumerate(items)
        if (line := _line(raw, f"{path}.itemInfoList[{i}]")) is not None
    ]
    if not lines and status is not PlatformStatus.CANCELLED:
        raise InvalidPayload(f"{path}.itemInfoList has no line with a quantity")
    consignee = order.get("consigneeInfo")
    consignee = consignee if isinstance(consignee, Mapping) else {}
    address = text(consignee, "fullAddress") or joined(
        (text(consignee, k) for k in ("province", "city", "county", "town")), " "
    )
    buyer = buyer_or_none(
        text(consignee, "fullname"),
        text(consignee, "mobile") or text(consignee, "telephone"),
        address,
    )
    return OrderEvent(
        event_key=f"{PLATFORM}#{store.store_id}#{order_id}:{state}:{updated_at_raw}",
        platform=store.platform,
        store=store.store_id,
        order_id=order_id,
        event_type=EVENT_TYPES[status],
        status=status,
        updated_at=updated_at,
        updated_at_raw=updated_at_raw,
        currency="CNY",
        lines=tuple(lines),
        buyer=buyer,
        received_at=received_at,
    )


def parse_search_page(payload: Any, raw_text: str, store: Store, received_at: datetime) -> Page:
    """One answer page: its events, the orders that can never be booked (recorded as
    rejected), and the total JD reports for the window."""
    result = jd_answer(payload)
    return parse_order_list(
        result.get("orderInfoList") or [],
        result.get("orderTotal"),
        f"$.{RESPONSE}.searchorderinfo_result.orderInfoList",
        PLATFORM,
        store,
        received_at,
        raw_text,
        order_event,
        "orderId",
        "modified",
    )
