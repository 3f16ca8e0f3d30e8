"""Amazon SP-API Orders API v0, as OrderHub asks and reads it: the order fetch behind every
ORDER_CHANGE notification and the backup poll of recently updated orders. Pure: no I/O
(HTTP, the token cache and retries live in adapters/amazon_orders.py).

Auth
    A Login-with-Amazon (LWA) access token: `POST {ORDERHUB_AMAZON_LWA_URL}` (default
    `https://api.amazon.com/auth/o2/token`), form `grant_type=refresh_token`,
    `refresh_token`, `client_id`, `client_secret` → `{"access_token", "expires_in": 3600}`;
    sent as header `x-amz-access-token`. No AWS SigV4 signature: SP-API stopped requiring
    AWS IAM credentials and SigV4 on 2023-10-02 (see docs/channel-apis.md). Store secret
    fields: `lwa_client_id`, `lwa_client_secret`, `refresh_token`; optional `marketplace_ids`
    (list, or text separated by commas) or `marketplace_id` (default ATVPDKIKX0DER).

Calls (base `ORDERHUB_AMAZON_API_URL`, default `https://sellingpartnerapi-na.amazon.com`)
    getOrder `GET /orders/v0/orders/{orderId}` → `{"payload": Order}`;
    getOrderItems `GET /orders/v0/orders/{orderId}/orderItems[?NextToken=…]` →
    `{"payload": {"AmazonOrderId", "OrderItems": [...], "NextToken"?}}`;
    getOrders `GET /orders/v0/orders?MarketplaceIds=…&LastUpdatedAfter=…&LastUpdatedBefore=…
    &FulfillmentChannels=MFN&MaxResultsPerPage=100[&NextToken=…]` → `{"payload": {"Orders":
    [...], "NextToken"?}}`. Errors: `{"errors": [{"code", "message", "details"?}]}`.
    Default usage plans (rate per second, burst), from amzn/selling-partner-api-models
    models/orders-api-model/ordersV0.json: getOrder 0.5/30, getOrderItems 0.5/30, getOrders
    0.0167/20; the `x-amzn-RateLimit-Limit` answer header carries the seller's own rate when
    Amazon sends it. The v0 operations are marked deprecated in that model in favour of
    Orders 2026-01-01 (`searchOrders`), which OrderHub reads for the daily reconciliation;
    v0 still answers and is what this fetch uses.

Order → details (`order_details`; errors name the field: `$.payload.OrderStatus`)
    Status `OrderStatus`, mapped as the notification's (channels/amazon.py `STATUSES`):
    Pending, PendingAvailability → unpaid; Unshipped, PartiallyShipped → paid; Shipped,
    InvoiceUnconfirmed → shipped; Canceled, Unfulfillable → cancelled. Time `LastUpdateDate`
    (UTC, text kept). Lines per `SellerSKU` (items of one SKU merged), quantity
    `QuantityOrdered` (0: the item was cancelled, left out). Unit price: what the buyer pays
    for the item, tax and shipping included (as BigCommerce's `price_inc_tax`, so the sum
    matches Amazon's `OrderTotal`, which the reconciliation compares): `ItemPrice` (the
    item's price × quantity) + `ItemTax` + `ShippingPrice` + `ShippingTax` −
    `PromotionDiscount` − `PromotionDiscountTax` − `ShippingDiscount` −
    `ShippingDiscountTax`, divided by the quantity. Currency: the items' `CurrencyCode` (one
    per order), else `OrderTotal.CurrencyCode`, else "". A Pending order's items carry no
    prices (Amazon's note on getOrderItems): its lines are booked at 0 and priced by the
    change that follows payment. Buyer (personal data, never logged): `ShippingAddress` and
    `BuyerInfo.BuyerEmail`, which Amazon sends only with a Restricted Data Token; with the
    plain LWA token OrderHub uses they are absent and the buyer stays None.

Poll events (`poll_event`)
    One thin event per listed seller-fulfilled order, keyed by the order's version:
    `amazon#{SellerId}#{AmazonOrderId}:{OrderStatus}:{LastUpdateDate}`, so re-reading a
    window queues the same key (booked once, then `duplicate`); the processor fetches the
    order like a notification's. A notification and a poll of the same order version book
    once: whichever comes second finds the order already at that `LastUpdateDate` (`stale`,
    nothing moved), and the poller skips versions OrderHub already holds before queueing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.channels.amazon import STATUSES, thin_event, utc_time
from chalicelib.channels.base import (
    MAX_LINES,
    api_fields,
    buyer_or_none,
    check_kind,
    currency,
    joined,
    money,
    optional,
    per_unit,
    require,
    text,
)
from chalicelib.domain.details import OrderDetails
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import OrderEvent, OrderLine, PlatformStatus

PLATFORM = "amazon"
TOKEN_HEADER = "x-amz-access-token"
ORDERS_PATH = "/orders/v0/orders"
GET_ORDER, GET_ORDER_ITEMS, GET_ORDERS = "getOrder", "getOrderItems", "getOrders"
SECRET_FIELDS = "lwa_client_id, lwa_client_secret and refresh_token"
DEFAULT_MARKETPLACE = "ATVPDKIKX0DER"
# Amazon's default usage plans (requests per second, burst): ordersV0.json
RATES = {GET_ORDER: (0.5, 30), GET_ORDER_ITEMS: (0.5, 30), GET_ORDERS: (0.0167, 20)}
RATE_HEADER = "x-amzn-ratelimit-limit"
PAGE_SIZE = 100  # getOrders' largest page
MAX_ITEM_PAGES = 10  # getOrderItems pages per order: far beyond the lines an event carries
ADDED = ("ItemPrice", "ItemTax", "ShippingPrice", "ShippingTax")
SUBTRACTED = (
    "PromotionDiscount",
    "PromotionDiscountTax",
    "ShippingDiscount",
    "ShippingDiscountTax",
)


@dataclass(frozen=True)
class SpApiCredentials:
    """What an SP-API call needs from the store's secret. Never logged."""

    client_id: str
    client_secret: str
    refresh_token: str
    marketplace_ids: tuple[str, ...]

    def __repr__(self) -> str:  # the dataclass default would print the secrets
        return f"SpApiCredentials(client_id={self.client_id!r}, ...)"

    @property
    def cache_key(self) -> str:
        """Which token this is: a new refresh token or client (a rotated secret) gets its own."""
        digest = hashlib.sha256(f"{self.client_secret}\n{self.refresh_token}".encode()).hexdigest()
        return f"{self.client_id}|{digest[:32]}"


def sp_api_credentials(secret: Mapping[str, Any]) -> tuple[SpApiCredentials | None, list[str]]:
    """The credentials from the store's secret, or None and the names of the missing fields."""
    values, missing = api_fields(secret, ("lwa_client_id", "lwa_client_secret", "refresh_token"))
    if missing:
        return None, missing
    listed = secret.get("marketplace_ids")
    if isinstance(listed, str):
        listed = listed.split(",")
    ids = [str(m).strip() for m in listed if str(m).strip()] if isinstance(listed, list) else []
    if not ids:
        ids = [str(secret.get("marketplace_id") or "").strip() or DEFAULT_MARKETPLACE]
    return (
        SpApiCredentials(
            values["lwa_client_id"],
            values["lwa_client_secret"],
            values["refresh_token"],
            tuple(ids),
        ),
        [],
    )


def token_form(credentials: SpApiCredentials) -> bytes:
    """The LWA refresh-token grant, form-encoded."""
    return urlencode(
        {
            "grant_type": "refresh_token",
            "refresh_token": credentials.refresh_token,
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        }
    ).encode("utf-8")


def read_token(payload: Any) -> tuple[str, float]:
    """(access token, seconds it lives) from LWA's answer; InvalidPayload otherwise."""
    if not isinstance(payload, Mapping):
        raise InvalidPayload("LWA's answer must be a JSON object")
    token = require(payload, "access_token", "$", str)
    lifetime = payload.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | Decimal):
        lifetime = 3600
    return token, float(lifetime)


def order_path(order_id: str) -> str:
    return f"{ORDERS_PATH}/{quote(order_id, safe='')}"


def items_path(order_id: str, next_token: str | None) -> str:
    query = f"?{urlencode({'NextToken': next_token})}" if next_token else ""
    return f"{order_path(order_id)}/orderItems{query}"


def amazon_time(moment: datetime) -> str:
    """ISO-8601 UTC with whole seconds, as getOrders takes it."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def orders_path(
    after: datetime, before: datetime, marketplace_ids: Sequence[str], next_token: str | None
) -> str:
    """getOrders for seller-fulfilled orders updated in [after, before]; the same filters
    go with every page (Amazon: NextToken does not replace them)."""
    query = [
        ("MarketplaceIds", ",".join(marketplace_ids)),
        ("LastUpdatedAfter", amazon_time(after)),
        ("LastUpdatedBefore", amazon_time(before)),
        ("FulfillmentChannels", "MFN"),
        ("MaxResultsPerPage", str(PAGE_SIZE)),
    ]
    if next_token:
        query.append(("NextToken", next_token))
    return f"{ORDERS_PATH}?{urlencode(query)}"


def rate_wait(operation: str, headers: Mapping[str, str]) -> float:
    """Seconds to wait before asking again after a 429: `Retry-After` when Amazon sends it,
    else one request's worth of the rate it names in `x-amzn-RateLimit-Limit`, else of the
    operation's documented rate."""
    lower = {k.lower(): v for k, v in headers.items()}
    for name, per_request in (("retry-after", False), (RATE_HEADER, True)):
        try:
            value = float(lower.get(name, ""))
        except ValueError:
            continue
        if value > 0:
            return 1.0 / value if per_request else value
    return 1.0 / RATES.get(operation, (0.5, 1))[0]


def refusal(payload: Any) -> str:
    """SP-API's error list as one line ("NotFound: Invalid AmazonOrderId"), or ""."""
    errors = payload.get("errors") if isinstance(payload, Mapping) else None
    if not isinstance(errors, list):
        return ""
    said = []
    for error in errors[:3]:
        if isinstance(error, Mapping):
            parts = [text(error, "code"), text(error, "message"), text(error, "details")]
            said.append(": ".join(p for p in parts if p))
    return "; ".join(s for s in said if s)


# ---- answers ------------------------------------------------------------------------------


def order_payload(answer: Any, order_id: str) -> Mapping[str, Any]:
    """getOrder's order, checked to be the one asked for."""
    order = require(check_kind(answer, "$", dict), "payload", "$", dict)
    got = require(order, "AmazonOrderId", "$.payload", str).strip()
    if got != order_id:
        raise InvalidPayload(f"$.payload.AmazonOrderId '{got}' is not the order asked for")
    return order


def items_page(answer: Any) -> tuple[list[Any], str | None]:
    """One getOrderItems page: its items and the next page's token (None: the last)."""
    payload = require(check_kind(answer, "$", dict), "payload", "$", dict)
    items = require(payload, "OrderItems", "$.payload", list)
    next_token = optional(payload, "NextToken", "$.payload", str)
    return items, next_token.strip() if next_token else None


def orders_page(answer: Any) -> tuple[list[Any], str | None]:
    """One getOrders page: its orders and the next page's token (None: the last)."""
    payload = require(check_kind(answer, "$", dict), "payload", "$", dict)
    orders = require(payload, "Orders", "$.payload", list)
    next_token = optional(payload, "NextToken", "$.payload", str)
    return orders, next_token.strip() if next_token else None


def order_status(order: Mapping[str, Any], path: str) -> PlatformStatus:
    value = require(order, "OrderStatus", path, str)
    if value not in STATUSES:
        raise InvalidPayload(f"{path}.OrderStatus '{value}' is not one of: {', '.join(STATUSES)}")
    return STATUSES[value]


def _charge(item: Mapping[str, Any], where: str, currencies: set[str]) -> Decimal:
    """What the buyer pays for this item (all its units): module docstring."""
    total = Decimal(0)
    for names, sign in ((ADDED, 1), (SUBTRACTED, -1)):
        for name in names:
            amount = optional(item, name, where, dict)
            if amount is None:
                continue
            path = f"{where}.{name}"
            currencies.add(currency(amount, "CurrencyCode", path))
            total += sign * money(amount, "Amount", path)
    if total < 0:
        raise InvalidPayload(f"{where}: its discounts exceed its price")
    return total


def _lines(items: Sequence[Any], path: str) -> tuple[tuple[OrderLine, ...], set[str]]:
    counts: dict[str, int] = {}
    totals: dict[str, Decimal] = {}
    currencies: set[str] = set()
    for i, raw in enumerate(items):
        where = f"{path}[{i}]"
        item = check_kind(raw, where, dict)
        sku = require(item, "SellerSKU", where, str).strip()
        units = require(item, "QuantityOrdered", where, int)
        if units < 0:
            raise InvalidPayload(f"{where}.QuantityOrdered must not be negative")
        charge = _charge(item, where, currencies)
        if units == 0:  # cancelled item: holds nothing
            continue
        counts[sku] = counts.get(sku, 0) + units
        totals[sku] = totals.get(sku, Decimal(0)) + charge
    if len(counts) > MAX_LINES:
        raise InvalidPayload(f"{path} name {len(counts)} SKUs; at most {MAX_LINES}")
    lines = tuple(OrderLine(s, n, per_unit(totals[s], n)) for s, n in counts.items())
    return lines, currencies


def order_details(order: Mapping[str, Any], items: Sequence[Any]) -> OrderDetails:
    """getOrder's order and every getOrderItems item as OrderHub's details (module
    docstring). InvalidPayload names the field."""
    path = "$.payload"
    status = order_status(order, path)
    updated_at, updated_at_raw = utc_time(order, "LastUpdateDate", path)
    lines, currencies = _lines(items, "$.payload.OrderItems")
    if len(currencies) > 1:
        mixed = ", ".join(sorted(currencies))
        raise InvalidPayload(f"$.payload.OrderItems mix currencies: {mixed}")
    paid_in = next(iter(currencies), "")
    total = optional(order, "OrderTotal", path, dict)
    if not paid_in and total is not None and total.get("CurrencyCode"):
        paid_in = currency(total, "CurrencyCode", f"{path}.OrderTotal")
    address = optional(order, "ShippingAddress", path, dict) or {}
    buyer_info = optional(order, "BuyerInfo", path, dict) or {}
    buyer = buyer_or_none(
        text(address, "Name"),
        text(address, "Phone"),
        joined(
            text(address, key)
            for key in (
                "AddressLine1",
                "AddressLine2",
                "AddressLine3",
                "City",
                "StateOrRegion",
                "PostalCode",
                "CountryCode",
            )
        ),
        email=text(buyer_info, "BuyerEmail"),
    )
    return OrderDetails(status, updated_at, updated_at_raw, paid_in, lines, buyer)


def poll_event_key(seller_id: str, order_id: str, status: str, updated_raw: str) -> str:
    return f"{PLATFORM}#{seller_id}#{order_id}:{status}:{updated_raw}"


def poll_event(order: Any, index: int, seller_id: str, received_at: datetime) -> OrderEvent | None:
    """The thin event for one getOrders order (module docstring); None for an order
    Amazon fulfils (AFN: not our stock), should one be listed."""
    path = f"$.payload.Orders[{index}]"
    order = check_kind(order, path, dict)
    order_id = require(order, "AmazonOrderId", path, str).strip()
    if (optional(order, "FulfillmentChannel", path, str) or "MFN") != "MFN":
        return None
    status = order_status(order, path)
    updated = utc_time(order, "LastUpdateDate", path)
    key = poll_event_key(seller_id, order_id, order["OrderStatus"], updated[1])
    return thin_event(key, seller_id, order_id, status, updated, received_at)
