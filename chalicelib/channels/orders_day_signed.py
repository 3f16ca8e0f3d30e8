"""The signed platforms' lists of a store's orders created in a day (see orders_day.py):
TikTok Shop `POST /order/202309/orders/search {create_time_ge, create_time_lt}` (signed like
every TikTok call, `next_page_token`), Douyin `order.searchList {create_time_start,
create_time_end, page from 0, size}` (`pay_amount` in fen), Taobao `taobao.trades.sold.get
{start_created, end_created}` (Beijing time, inclusive, `has_next`), Pinduoduo
`pdd.order.list.get {start_confirm_at, end_confirm_at}` (at most 24 h; by 成交时间, the
confirm/payment time, so unpaid orders are not listed: docs/channel-apis.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.channels import douyin_api, pinduoduo, taobao, tiktok
from chalicelib.channels.douyin_stock import DouyinStock, douyin_call
from chalicelib.channels.orders_day import MAX_PAGES, DayList, known_status, money, read_rows
from chalicelib.channels.router_stock import PinduoduoStock, TaobaoStock, form_call, pull_creds
from chalicelib.channels.stock_api import Send, compact
from chalicelib.channels.tiktok_stock import TikTokStock, signed_call
from chalicelib.domain.errors import ChannelUnavailable, InvalidPayload
from chalicelib.domain.model import PlatformStatus
from chalicelib.domain.reconcile import LedgerRow, Problems


def tiktok_row(order: Mapping[str, Any]) -> LedgerRow:
    status = known_status(tiktok.STATUSES, order, "id", "status")
    payment = order.get("payment") or {}
    return LedgerRow(
        str(order["id"]), status, money(payment["total_amount"]), str(payment.get("currency") or "")
    )


class TikTokDay(DayList):
    platform, source = "tiktok", "TikTok Shop order search (202309, create_time)"

    def __init__(self, api: TikTokStock) -> None:
        self.api = api

    def rows(
        self,
        send: Send,
        credentials: Mapping[str, str],
        start: datetime,
        end: datetime,
        now: datetime,
        problems: Problems,
    ) -> Iterator[LedgerRow]:
        token = ""
        body = compact(
            {"create_time_ge": int(start.timestamp()), "create_time_lt": int(end.timestamp())}
        )
        for _ in range(MAX_PAGES):
            extra = {"page_size": "100", "sort_field": "create_time", "sort_order": "ASC"}
            if token:
                extra["page_token"] = token
            call = signed_call(
                credentials, "/order/202309/orders/search", body, now, "orders/search", extra
            )
            answer = send(call)
            payload = self.api_payload(answer)
            data = payload.get("data") or {}
            yield from read_rows(data.get("orders"), tiktok_row, problems, "TikTok orders")
            token = str(data.get("next_page_token") or "")
            if not token:
                return
        raise ChannelUnavailable("TikTok's order list did not end")

    def api_payload(self, answer: Any) -> Mapping[str, Any]:
        from chalicelib.channels.stock_api import http_failure
        from chalicelib.channels.tiktok_stock import envelope_error

        failure = http_failure(answer, "TikTok Shop", self.api.fix())
        if failure is not None:
            raise failure
        payload = answer.json()
        refusal = envelope_error(payload, self.api.fix())
        if refusal is not None:
            raise refusal
        return payload


def douyin_row(order: Mapping[str, Any]) -> LedgerRow:
    status = known_status(douyin_api.STATUSES, order, "order_id", "order_status")
    return LedgerRow(str(order["order_id"]), status, money(order["pay_amount"]) / 100, "CNY")


class DouyinDay(DayList):
    platform, source = "douyin", "Douyin order.searchList (create_time)"

    def __init__(self, api: DouyinStock) -> None:
        self.api = api

    def rows(
        self,
        send: Send,
        credentials: Mapping[str, str],
        start: datetime,
        end: datetime,
        now: datetime,
        problems: Problems,
    ) -> Iterator[LedgerRow]:
        seen = 0
        for page in range(MAX_PAGES):
            params = {
                "create_time_start": int(start.timestamp()),
                "create_time_end": int(end.timestamp()) - 1,
                "page": page,
                "size": 100,
                "order_by": "create_time",
                "order_asc": True,
            }
            payload = self.api._payload(
                send(douyin_call(credentials, "order.searchList", params, now))
            )
            data = payload.get("data") or {}
            orders = data.get("shop_order_list") or []
            yield from read_rows(orders, douyin_row, problems, "Douyin orders")
            seen += len(orders)
            total = int(str(data.get("total") or 0) or 0)
            if len(orders) < 100 or seen >= total:
                return
        raise ChannelUnavailable("Douyin's order list did not end")


def taobao_row(trade: Mapping[str, Any]) -> LedgerRow:
    status = known_status(taobao.STATUSES, trade, "tid", "status", "trade")
    return LedgerRow(str(trade["tid"]), status, money(trade["payment"]), "CNY")


class TaobaoDay(DayList):
    platform, source = "taobao", "Taobao taobao.trades.sold.get (created)"

    def __init__(self, api: TaobaoStock) -> None:
        self.api = api

    def rows(
        self,
        send: Send,
        credentials: Mapping[str, str],
        start: datetime,
        end: datetime,
        now: datetime,
        problems: Problems,
    ) -> Iterator[LedgerRow]:
        creds = pull_creds(credentials)
        for page in range(1, MAX_PAGES + 1):
            business = {
                "fields": "tid,status,payment,created",
                "start_created": taobao.top_timestamp(start),
                "end_created": taobao.top_timestamp(end - timedelta(seconds=1)),
                "page_no": str(page),
                "page_size": "100",
                "use_has_next": "true",
            }
            params = taobao.top_request("taobao.trades.sold.get", business, creds, now)
            found = self.api._answer(
                send(form_call(params, "taobao.trades.sold.get")), "trades_sold_get_response"
            )
            yield from read_rows(
                taobao.listed(found.get("trades"), "trade"), taobao_row, problems, "Taobao trades"
            )
            if not found.get("has_next"):
                return
        raise ChannelUnavailable("Taobao's trade list did not end")


def pinduoduo_row(order: Mapping[str, Any]) -> LedgerRow:
    refund, state = int(order.get("refund_status") or 1), int(order["order_status"])
    if refund == 4:
        status = PlatformStatus.REFUNDED
    elif state == 1:
        status = PlatformStatus.PAID
    elif state in (2, 3):
        status = PlatformStatus.SHIPPED
    else:
        raise InvalidPayload(
            f"order {order.get('order_sn')}: order_status {state} is not 1, 2 or 3"
        )
    return LedgerRow(str(order["order_sn"]), status, Decimal(str(order["pay_amount"])), "CNY")


class PinduoduoDay(DayList):
    platform, source = "pinduoduo", "Pinduoduo pdd.order.list.get (confirm time)"

    def __init__(self, api: PinduoduoStock) -> None:
        self.api = api

    def rows(
        self,
        send: Send,
        credentials: Mapping[str, str],
        start: datetime,
        end: datetime,
        now: datetime,
        problems: Problems,
    ) -> Iterator[LedgerRow]:
        creds = pull_creds(credentials)
        for page in range(1, MAX_PAGES + 1):
            business = {
                "start_confirm_at": str(int(start.timestamp())),
                "end_confirm_at": str(int(end.timestamp()) - 1),
                "order_status": "5",
                "refund_status": "5",
                "page": str(page),
                "page_size": "100",
                "use_has_next": "true",
            }
            params = pinduoduo.pdd_request("pdd.order.list.get", business, creds, now)
            found = self.api._answer(
                send(form_call(params, "pdd.order.list.get")), "order_list_get_response"
            )
            yield from read_rows(
                found.get("order_list"), pinduoduo_row, problems, "Pinduoduo orders"
            )
            if not found.get("has_next"):
                return
        raise ChannelUnavailable("Pinduoduo's order list did not end")
