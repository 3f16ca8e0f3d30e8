"""Each platform's own list of a store's orders created in a day, for the nightly
reconciliation (domain/reconcile.py): the shared reader, and Shopify, WooCommerce,
BigCommerce and Amazon (TikTok Shop, Douyin, Taobao, Pinduoduo: orders_day_signed.py; JD:
adapters/statements.py). Pure: pages are fetched through the adapter's `send` (rate limits,
retries, auth), rows come back as `LedgerRow`s; a row that cannot be read is a problem
counted on the statement, never a stop.

Sources and shapes (docs/channel-apis.md "Daily order lists"): Shopify GraphQL
`orders(query: "created_at:>=... created_at:<...")`; WooCommerce
`GET /wp-json/wc/v3/orders?after&before&dates_are_gmt=true` (X-WP-TotalPages); BigCommerce
`GET /v2/orders?min_date_created&max_date_created` (204 when empty); Amazon
`GET /orders/2026-01-01/orders?createdAfter&createdBefore` (createdBefore at least 2 minutes
before now, `pagination.nextToken`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.channels import bigcommerce, shopify, woocommerce
from chalicelib.channels.shopify_stock import ShopifyStock
from chalicelib.channels.stock_api import ApiAnswer, ApiCall, Send, compact, http_failure
from chalicelib.channels.woocommerce_stock import basic_auth
from chalicelib.domain.errors import ChannelUnavailable, InvalidPayload
from chalicelib.domain.model import PlatformStatus
from chalicelib.domain.reconcile import LedgerRow, Problems

MAX_PAGES = 2_000  # a runaway paging answer must not loop for ever
Reader = Callable[[Any], LedgerRow]


def money(value: Any) -> Decimal:
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidPayload(f"amount '{value}' is not a number") from None


def known_status(
    statuses: Mapping[Any, PlatformStatus],
    row: Mapping[str, Any],
    id_field: str,
    field: str,
    noun: str = "order",
) -> PlatformStatus:
    """The platform status a listed row's `field` names, or InvalidPayload naming the row."""
    status = statuses.get(str(row.get(field)))
    if status is None:
        value = row.get(field)
        raise InvalidPayload(f"{noun} {row.get(id_field)}: {field} '{value}' is not known")
    return status


def read_rows(rows: Any, reader: Reader, problems: Problems, where: str) -> Iterator[LedgerRow]:
    for raw in rows or []:
        try:
            yield reader(raw)
        except (InvalidPayload, KeyError, TypeError, AttributeError) as exc:
            problems.add(f"{where}: {getattr(exc, 'message', exc)}")


def json_of(answer: ApiAnswer, platform: str, fix: str) -> Any:
    failure = http_failure(answer, platform, fix)
    if failure is not None:
        raise failure
    payload = answer.json()
    if payload is None:
        raise ChannelUnavailable(f"{platform}'s order list is not JSON")
    return payload


class DayList(ABC):
    """One platform's list of a store's orders created in [start, end)."""

    platform = ""
    source = ""  # how the statement names itself

    @abstractmethod
    def rows(
        self,
        send: Send,
        credentials: Mapping[str, str],
        start: datetime,
        end: datetime,
        now: datetime,
        problems: Problems,
    ) -> Iterator[LedgerRow]: ...


# ---- Shopify ---------------------------------------------------------------------------------

SHOPIFY_ORDERS = (
    "query DayOrders($q: String!, $after: String) { orders(first: 250, after: $after, "
    "sortKey: CREATED_AT, query: $q) { nodes { id name createdAt cancelledAt "
    "displayFinancialStatus displayFulfillmentStatus totalPriceSet { shopMoney { amount "
    "currencyCode } } } pageInfo { hasNextPage endCursor } } }"
)
FULFILLMENT = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}


def shopify_row(node: Mapping[str, Any]) -> LedgerRow:
    order_id = str(node["id"]).rsplit("/", 1)[-1]
    status = shopify.shopify_status(
        {
            "financial_status": str(node.get("displayFinancialStatus") or "").lower(),
            "cancelled_at": node.get("cancelledAt"),
            "fulfillment_status": FULFILLMENT.get(str(node.get("displayFulfillmentStatus"))),
        }
    )
    total = node["totalPriceSet"]["shopMoney"]
    return LedgerRow(order_id, status, money(total["amount"]), str(total["currencyCode"]))


class ShopifyDay(DayList):
    platform, source = "shopify", "Shopify orders (GraphQL Admin API, created_at)"

    def __init__(self, api: ShopifyStock) -> None:
        self.api = api

    def query(self, start: datetime, end: datetime) -> str:
        return f"created_at:>='{start.isoformat()}' created_at:<'{end.isoformat()}'"

    def rows(
        self,
        send: Send,
        credentials: Mapping[str, str],
        start: datetime,
        end: datetime,
        now: datetime,
        problems: Problems,
    ) -> Iterator[LedgerRow]:
        cursor = None
        for _ in range(MAX_PAGES):
            body = {
                "query": SHOPIFY_ORDERS,
                "variables": {"q": self.query(start, end), "after": cursor},
            }
            call = ApiCall(
                "POST",
                f"/admin/api/{self.api.version}/graphql.json",
                "orders",
                compact(body),
                {
                    "X-Shopify-Access-Token": credentials["admin_api_token"],
                    "Content-Type": "application/json",
                },
            )
            payload = self.api._checked(send(call))
            orders = (payload.get("data") or {}).get("orders") or {}
            yield from read_rows(orders.get("nodes"), shopify_row, problems, "Shopify orders")
            info = orders.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            cursor = info.get("endCursor")
        raise ChannelUnavailable("Shopify's order list did not end")


# ---- WooCommerce -----------------------------------------------------------------------------


def woo_row(order: Mapping[str, Any]) -> LedgerRow:
    status = known_status(woocommerce.STATUSES, order, "id", "status")
    return LedgerRow(
        str(order["id"]), status, money(order["total"]), str(order.get("currency") or "")
    )


class WooCommerceDay(DayList):
    platform, source = "woocommerce", "WooCommerce orders (REST v3, date_created_gmt)"

    def rows(
        self,
        send: Send,
        credentials: Mapping[str, str],
        start: datetime,
        end: datetime,
        now: datetime,
        problems: Problems,
    ) -> Iterator[LedgerRow]:
        fmt = "%Y-%m-%dT%H:%M:%S"
        for page in range(1, MAX_PAGES + 1):
            query = {
                "after": start.strftime(fmt),
                "before": end.strftime(fmt),
                "dates_are_gmt": "true",
                "per_page": "100",
                "page": str(page),
                "orderby": "date",
                "order": "asc",
            }
            headers = {"Authorization": basic_auth(credentials)}
            answer = send(
                ApiCall("GET", f"/wp-json/wc/v3/orders?{urlencode(query)}", "orders", b"", headers)
            )
            payload = json_of(answer, "WooCommerce", "check consumer_key and consumer_secret")
            yield from read_rows(payload, woo_row, problems, "WooCommerce orders")
            pages = answer.headers.get("x-wp-totalpages", "1")
            if not isinstance(payload, list) or page >= int(pages if pages.isdigit() else 1):
                return
        raise ChannelUnavailable("WooCommerce's order list did not end")


# ---- BigCommerce -----------------------------------------------------------------------------


def bigcommerce_row(order: Mapping[str, Any]) -> LedgerRow:
    status = bigcommerce.STATUS_IDS.get(int(order["status_id"]))
    if status is None:
        raise InvalidPayload(
            f"order {order.get('id')}: status_id {order.get('status_id')} is not known"
        )
    return LedgerRow(
        str(order["id"]),
        status,
        money(order["total_inc_tax"]),
        str(order.get("currency_code") or ""),
    )


class BigCommerceDay(DayList):
    platform, source = "bigcommerce", "BigCommerce orders (v2, date_created)"

    def rows(
        self,
        send: Send,
        credentials: Mapping[str, str],
        start: datetime,
        end: datetime,
        now: datetime,
        problems: Problems,
    ) -> Iterator[LedgerRow]:
        last = end - timedelta(seconds=1)  # max_date_created is inclusive, whole seconds
        for page in range(1, MAX_PAGES + 1):
            query = {
                "min_date_created": start.isoformat(),
                "max_date_created": last.isoformat(),
                "sort": "date_created:asc",
                "limit": "250",
                "page": str(page),
            }
            path = (
                f"/stores/{quote(credentials['store_hash'], safe='')}/v2/orders?{urlencode(query)}"
            )
            headers = {"X-Auth-Token": credentials["access_token"], "Accept": "application/json"}
            answer = send(ApiCall("GET", path, "orders", b"", headers))
            if answer.status == 204:
                return
            payload = json_of(answer, "BigCommerce", "check store_hash and access_token")
            yield from read_rows(payload, bigcommerce_row, problems, "BigCommerce orders")
            if not isinstance(payload, list) or len(payload) < 250:
                return
        raise ChannelUnavailable("BigCommerce's order list did not end")


# ---- Amazon ----------------------------------------------------------------------------------

AMAZON_STATUS = {
    "PENDING_AVAILABILITY": PlatformStatus.UNPAID,
    "PENDING": PlatformStatus.UNPAID,
    "UNSHIPPED": PlatformStatus.PAID,
    "PARTIALLY_SHIPPED": PlatformStatus.PAID,
    "SHIPPED": PlatformStatus.SHIPPED,
    "CANCELLED": PlatformStatus.CANCELLED,
    "UNFULFILLABLE": PlatformStatus.CANCELLED,
}


def amazon_row(order: Mapping[str, Any]) -> LedgerRow:
    state = str((order.get("fulfillment") or {}).get("fulfillmentStatus"))
    status = AMAZON_STATUS.get(state)
    if status is None:
        raise InvalidPayload(
            f"order {order.get('orderId')}: fulfillmentStatus '{state}' is not known"
        )
    total = (order.get("proceeds") or {}).get("grandTotal") or {"amount": "0", "currencyCode": ""}
    return LedgerRow(
        str(order["orderId"]), status, money(total["amount"]), str(total["currencyCode"])
    )


class AmazonDay(DayList):
    platform, source = "amazon", "Amazon SP-API searchOrders (2026-01-01, createdTime)"

    def __init__(self, marketplace: Callable[[Mapping[str, str]], str]) -> None:
        self.marketplace = marketplace

    def rows(
        self,
        send: Send,
        credentials: Mapping[str, str],
        start: datetime,
        end: datetime,
        now: datetime,
        problems: Problems,
    ) -> Iterator[LedgerRow]:
        before = min(end, now - timedelta(minutes=2))  # Amazon refuses a bound closer to now
        token = ""
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        for _ in range(MAX_PAGES):
            query = {
                "marketplaceIds": self.marketplace(credentials),
                "createdAfter": start.strftime(fmt),
                "createdBefore": before.strftime(fmt),
                "maxResultsPerPage": "100",
                "includedData": "PROCEEDS,FULFILLMENT",
            }
            if token:
                query["paginationToken"] = token
            headers = {
                "x-amz-access-token": credentials.get("access_token", ""),
                "Accept": "application/json",
            }
            answer = send(
                ApiCall(
                    "GET",
                    f"/orders/2026-01-01/orders?{urlencode(query)}",
                    "searchOrders",
                    b"",
                    headers,
                )
            )
            payload = json_of(answer, "Amazon", "check the LWA credentials and refresh_token")
            yield from read_rows(payload.get("orders"), amazon_row, problems, "Amazon orders")
            token = str((payload.get("pagination") or {}).get("nextToken") or "")
            if not token:
                return
        raise ChannelUnavailable("Amazon's order list did not end")
