"""TikTok Shop's Get Order Detail (API version 202309), as OrderHub asks and reads it. Pure.

A TikTok webhook carries the order id and status only (tiktok.py: a thin event). Before it
is booked, the processor fetches the order (domain/details.py; HTTP in
adapters/platform_api.py `TikTokOrderApi`). This module builds the request and reads the
answer; it does no I/O.

Request
    `GET {base}/order/202309/orders?app_key=…&ids={order_id}&shop_cipher=…&timestamp=…&sign=…`
    with header `x-tts-access-token: {access_token}`; `timestamp` Unix seconds; `sign` per
    tiktok_api_signature.py, made with the store's current app secret (the first of
    `app_secrets` during a rotation, rotation.effective_secret). Base URL
    `ORDERHUB_TIKTOK_API_URL`, default `https://open-api.tiktokglobalshop.com`.
    Store secret: `{"app_key", "app_secret" (or "app_secrets"), "access_token",
    "shop_cipher"}` (+ the webhook's optional `shop_id`); the access token does not rotate
    with the app secret and is read as stored.

Answer
    `{"code": 0, "message": "Success", "request_id": "…", "data": {"orders": [{…}]}}`. A code
    other than 0 is a refusal (`tiktok_refusal`: its code and message, for the adapter to
    report). An order id absent from `data.orders` is not on TikTok (`parse_tiktok_answer`
    gives None). Sources: the 202309 "Get Order Detail" reference as public clients quote it
    (EcomPHP/tiktokshop-php src/Resources/Order.php getOrderDetail(): `GET orders` under
    `/order/202309`, `ids`; several public Python clients for the response fields).

Order → details (`parse_tiktok_order`, errors name the field: `$.data.orders[0].status`)
    Status `status`, mapped as the webhook's `order_status` (tiktok.py, older numeric codes
    too): UNPAID → unpaid; ON_HOLD, AWAITING_SHIPMENT → paid; PARTIALLY_SHIPPING,
    AWAITING_COLLECTION, IN_TRANSIT, DELIVERED, COMPLETED → shipped; CANCELLED → cancelled.
    Time `update_time` (Unix seconds → UTC, text kept). Currency `payment.currency`.
    Lines: `line_items` holds one entry per unit, so entries are merged by SKU: the SKU is
    `seller_sku`, else the platform's `sku_id` as text (map it with a SKU table, or it holds
    as an unknown SKU); quantity the number of entries (an entry's own `quantity`, when
    present, counts that many); unit price `sale_price` (else `original_price`), Decimal, the
    entries' mean when they differ (a discount on one unit), exact where it divides. An entry
    whose `display_status` is CANCELLED in an order that is not (a unit cancelled on its own)
    holds nothing and is left out. Buyer (personal data, never logged): `recipient_address`
    `name`, `phone_number`, `full_address` (else its address lines and postal code).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.channels.base import (
    MAX_LINES,
    api_fields,
    buyer_or_none,
    check_kind,
    currency,
    id_text,
    joined,
    money,
    optional,
    per_unit,
    platform_time,
    require,
    text,
)
from chalicelib.channels.tiktok import LEGACY_CODES, STATUSES, TikTokChannel
from chalicelib.channels.tiktok_api_signature import tiktok_api_sign
from chalicelib.domain.details import OrderDetails, OrderDetailsUnavailable
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import OrderLine, PlatformStatus

PLATFORM = TikTokChannel.platform
ORDER_DETAIL_PATH = "/order/202309/orders"
ACCESS_TOKEN_HEADER = "x-tts-access-token"
SECRET_FIELDS = "app_key, app_secret, access_token and shop_cipher"
MAX_LINE_ITEMS = 5000  # one per unit: an order of 500 lines can list many more units


@dataclass(frozen=True)
class TikTokApiCredentials:
    """What an API call needs from the store's secret. Never logged."""

    app_key: str
    app_secret: str  # the current one: outbound calls are signed with the newest
    access_token: str
    shop_cipher: str

    def __repr__(self) -> str:  # the dataclass default would print the secrets
        return f"TikTokApiCredentials(app_key={self.app_key!r}, ...)"


def tiktok_api_credentials(secret: Mapping[str, Any]) -> TikTokApiCredentials:
    """The API credentials from the store's (effective) secret; OrderDetailsUnavailable
    naming the missing fields (fix the secret; the retry then succeeds)."""
    values, missing = api_fields(secret, ("app_key", "app_secret", "access_token", "shop_cipher"))
    if missing:
        raise OrderDetailsUnavailable(
            f"the TikTok store's secret lacks {', '.join(missing)}: fetching order details "
            f"needs {SECRET_FIELDS} (docs/platforms.md); retrying"
        )
    return TikTokApiCredentials(**values)


def order_detail_query(
    order_id: str, credentials: TikTokApiCredentials, now: datetime
) -> dict[str, str]:
    """The signed query of Get Order Detail for one order (the token goes in a header)."""
    query = {
        "app_key": credentials.app_key,
        "ids": order_id,
        "shop_cipher": credentials.shop_cipher,
        "timestamp": str(int(now.timestamp())),
    }
    query["sign"] = tiktok_api_sign(credentials.app_secret, ORDER_DETAIL_PATH, query)
    return query


# ---- the answer ------------------------------------------------------------------------------


def tiktok_refusal(payload: Any) -> str | None:
    """ "code N: message" when the answer is a refusal (code other than 0), else None.
    InvalidPayload when it is not TikTok's envelope at all."""
    if not isinstance(payload, dict):
        raise InvalidPayload("the answer must be a JSON object")
    code = payload.get("code")
    if isinstance(code, bool) or not isinstance(code, int | str) or str(code).strip() == "":
        raise InvalidPayload("$.code is required (TikTok's answer envelope)")
    if str(code).strip() == "0":
        return None
    return f"code {str(code).strip()}: {text(payload, 'message') or 'no message'}"


def parse_tiktok_answer(order_id: str, payload: Any) -> OrderDetails | None:
    """The details of `order_id` from a successful answer; None when TikTok lists no such
    order. InvalidPayload names the field."""
    data = require(payload, "data", "$", dict)
    orders = optional(data, "orders", "$.data", list) or []
    for i, order in enumerate(orders):
        path = f"$.data.orders[{i}]"
        if id_text(check_kind(order, path, dict), "id", path) == order_id:
            return parse_tiktok_order(order, path)
    return None


def _status(order: Mapping[str, Any], path: str) -> PlatformStatus:
    value = id_text(order, "status", path)
    name = LEGACY_CODES.get(value, value)
    if name not in STATUSES:
        raise InvalidPayload(f"{path}.status '{value}' is not one of: {', '.join(STATUSES)}")
    return STATUSES[name]


def _lines(order: Mapping[str, Any], path: str, status: PlatformStatus) -> tuple[OrderLine, ...]:
    items = require(order, "line_items", path, list)
    if len(items) > MAX_LINE_ITEMS:
        raise InvalidPayload(
            f"{path}.line_items has {len(items)} entries; at most {MAX_LINE_ITEMS}"
        )
    counts: dict[str, int] = {}
    totals: dict[str, Decimal] = {}
    for i, raw in enumerate(items):
        where = f"{path}.line_items[{i}]"
        item = check_kind(raw, where, dict)
        if status is not PlatformStatus.CANCELLED and text(item, "display_status") == "CANCELLED":
            continue  # this unit was cancelled on its own: it holds nothing
        sku = text(item, "seller_sku") or id_text(item, "sku_id", where)
        units = optional(item, "quantity", where, int)
        if units is None:
            units = 1
        if units <= 0:
            raise InvalidPayload(f"{where}.quantity must be a positive integer")
        price_key = "sale_price" if item.get("sale_price") is not None else "original_price"
        price = money(item, price_key, where)
        counts[sku] = counts.get(sku, 0) + units
        totals[sku] = totals.get(sku, Decimal(0)) + price * units
    if len(counts) > MAX_LINES:
        raise InvalidPayload(f"{path}.line_items name {len(counts)} SKUs; at most {MAX_LINES}")
    return tuple(
        OrderLine(sku, count, per_unit(totals[sku], count)) for sku, count in counts.items()
    )


def parse_tiktok_order(order: Mapping[str, Any], path: str = "$") -> OrderDetails:
    """One order of Get Order Detail as OrderHub's details (module docstring)."""
    status = _status(order, path)
    updated_at, updated_at_raw = platform_time(order, "update_time", path, "UTC")
    payment = require(order, "payment", path, dict)
    paid_in = currency(payment, "currency", f"{path}.payment")
    lines = _lines(order, path, status)
    address = optional(order, "recipient_address", path, dict) or {}
    buyer = buyer_or_none(
        text(address, "name")
        or joined((text(address, "first_name"), text(address, "last_name")), " "),
        text(address, "phone_number"),
        text(address, "full_address")
        or joined(
            text(address, key)
            for key in (
                "address_line1",
                "address_line2",
                "address_line3",
                "address_line4",
                "postal_code",
            )
        ),
    )
    return OrderDetails(status, updated_at, updated_at_raw, paid_in, lines, buyer)
