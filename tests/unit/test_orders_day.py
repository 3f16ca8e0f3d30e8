"""The platforms' day lists: each documented order shape read into ledger rows, pages
followed to the end, unreadable rows counted as problems, never a stop."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

from chalicelib.channels.douyin_stock import DouyinStock
from chalicelib.channels.orders_day import (
    AmazonDay,
    BigCommerceDay,
    ShopifyDay,
    WooCommerceDay,
    amazon_row,
    bigcommerce_row,
)
from chalicelib.channels.orders_day_signed import DouyinDay, PinduoduoDay, TaobaoDay, TikTokDay
from chalicelib.channels.router_stock import PinduoduoStock, TaobaoStock
from chalicelib.channels.shopify_stock import ShopifyStock
from chalicelib.channels.stock_api import ApiAnswer
from chalicelib.channels.tiktok_stock import TikTokStock
from chalicelib.domain.model import PlatformStatus
from chalicelib.domain.reconcile import Problems, day_window
from tests.conftest import fixture_json

START, END = day_window(datetime(2024, 5, 1).date())  # Beijing 2024-05-01
NOW = datetime(2024, 5, 3, tzinfo=UTC)


class Pages:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, call):
        self.calls.append(call)
        status, body, *headers = self.answers.pop(0)
        raw = b"" if body is None else json.dumps(body).encode()
        return ApiAnswer(status, raw, headers[0] if headers else {})


def test_bigcommerce_documented_order_list_reads_and_204_ends_the_pages():
    documented = fixture_json("inventory/bigcommerce/orders_v2_list_response.json")
    row = bigcommerce_row(documented[0])
    assert (row.order_id, row.status, row.amount, row.currency) == (
        "100",
        PlatformStatus.PAID,
        Decimal("361.9500"),
        "USD",
    )
    send = Pages((200, documented), (204, None))
    rows = list(
        BigCommerceDay().rows(
            send, {"store_hash": "h", "access_token": "t"}, START, END, NOW, Problems()
        )
    )
    assert len(rows) == len(documented)
    query = dict(parse_qsl(urlsplit(send.calls[0].path).query))
    assert query["min_date_created"] == "2024-04-30T16:00:00+00:00"
    assert query["max_date_created"] == "2024-05-01T15:59:59+00:00"


def test_amazon_documented_search_orders_reads_with_proceeds_and_status():
    documented = fixture_json("inventory/amazon/searchOrders_2026-01-01_example.json")
    row = amazon_row(documented["orders"][0])
    assert row.order_id == "123-4567890-1234567"
    send = Pages((200, {**documented, "pagination": {"nextToken": "t2"}}), (200, {"orders": []}))
    rows = list(
        AmazonDay(lambda c: "ATVPDKIKX0DER").rows(
            send, {"access_token": "a"}, START, END, NOW, Problems()
        )
    )
    assert len(rows) == len(documented["orders"])
    assert dict(parse_qsl(urlsplit(send.calls[1].path).query))["paginationToken"] == "t2"


def test_amazon_bound_stays_two_minutes_behind_now():
    send = Pages((200, {"orders": []}))
    just_now = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)
    list(AmazonDay(lambda c: "M").rows(send, {}, START, END, just_now, Problems()))
    assert (
        dict(parse_qsl(urlsplit(send.calls[0].path).query))["createdBefore"]
        == "2024-05-01T14:58:00Z"
    )


def test_douyin_documented_search_list_reads_fen_as_yuan():
    documented = fixture_json("inventory/doudian/responses_rendered.json")[
        "order_searchList_success"
    ]
    creds = {"app_key": "k", "app_secret": "s", "access_token": "t"}
    send = Pages((200, documented))
    (row,) = DouyinDay(DouyinStock()).rows(send, creds, START, END, NOW, Problems())
    assert (row.order_id, row.status, row.amount, row.currency) == (
        "6900000000000000001",
        PlatformStatus.PAID,
        Decimal("99"),
        "CNY",
    )
    body = json.loads(send.calls[0].body)
    assert (body["create_time_start"], body["create_time_end"]) == (
        int(START.timestamp()),
        int(END.timestamp()) - 1,
    )


def test_shopify_pages_by_cursor_and_maps_graphql_statuses():
    def node(i, **extra):
        base = {
            "id": f"gid://shopify/Order/{i}",
            "displayFinancialStatus": "PAID",
            "displayFulfillmentStatus": "UNFULFILLED",
            "cancelledAt": None,
            "totalPriceSet": {"shopMoney": {"amount": "10.00", "currencyCode": "USD"}},
        }
        return {**base, **extra}

    first = {
        "data": {
            "orders": {
                "nodes": [node(1), node(2, displayFulfillmentStatus="FULFILLED")],
                "pageInfo": {"hasNextPage": True, "endCursor": "c1"},
            }
        }
    }
    second = {
        "data": {
            "orders": {
                "nodes": [
                    node(3, cancelledAt="2024-05-01T01:00:00Z"),
                    node(4, displayFinancialStatus="REFUNDED"),
                ],
                "pageInfo": {"hasNextPage": False},
            }
        }
    }
    send = Pages((200, first), (200, second))
    rows = list(
        ShopifyDay(ShopifyStock()).rows(send, {"admin_api_token": "t"}, START, END, NOW, Problems())
    )
    assert [(r.order_id, r.status) for r in rows] == [
        ("1", PlatformStatus.PAID),
        ("2", PlatformStatus.SHIPPED),
        ("3", PlatformStatus.CANCELLED),
        ("4", PlatformStatus.REFUNDED),
    ]
    variables = json.loads(send.calls[1].body)["variables"]
    assert variables["after"] == "c1"
    assert (
        variables["q"]
        == "created_at:>='2024-04-30T16:00:00+00:00' created_at:<'2024-05-01T16:00:00+00:00'"
    )


def test_woocommerce_follows_total_pages_and_counts_unreadable_rows():
    page1 = [
        {"id": 1, "status": "processing", "total": "5.00", "currency": "CNY"},
        {"id": 2, "status": "weird", "total": "1"},
    ]
    page2 = [{"id": 3, "status": "completed", "total": "7.50", "currency": "CNY"}]
    send = Pages((200, page1, {"x-wp-totalpages": "2"}), (200, page2, {"x-wp-totalpages": "2"}))
    problems = Problems()
    rows = list(
        WooCommerceDay().rows(
            send, {"consumer_key": "k", "consumer_secret": "s"}, START, END, NOW, problems
        )
    )
    assert [r.order_id for r in rows] == ["1", "3"]
    assert problems.count == 1 and "weird" in problems.kept[0]
    query = dict(parse_qsl(urlsplit(send.calls[0].path).query))
    assert (query["after"], query["before"], query["dates_are_gmt"]) == (
        "2024-04-30T16:00:00",
        "2024-05-01T16:00:00",
        "true",
    )


def test_tiktok_taobao_pinduoduo_lists():
    tiktok = {
        "code": 0,
        "message": "Success",
        "data": {
            "orders": [
                {
                    "id": "576",
                    "status": "AWAITING_SHIPMENT",
                    "payment": {"total_amount": "12.30", "currency": "USD"},
                }
            ],
            "next_page_token": "",
        },
    }
    creds = {"app_key": "k", "app_secret": "s", "access_token": "t", "shop_cipher": "c"}
    send = Pages((200, tiktok))
    (row,) = TikTokDay(TikTokStock()).rows(send, creds, START, END, NOW, Problems())
    assert (row.order_id, row.status, row.amount) == ("576", PlatformStatus.PAID, Decimal("12.30"))
    assert json.loads(send.calls[0].body) == {
        "create_time_ge": int(START.timestamp()),
        "create_time_lt": int(END.timestamp()),
    }

    router = {"app_key": "k", "app_secret": "s", "session": "x"}
    trades = {
        "trades_sold_get_response": {
            "has_next": False,
            "trades": {
                "trade": [{"tid": 1, "status": "TRADE_CLOSED_BY_TAOBAO", "payment": "9.90"}]
            },
        }
    }
    send = Pages((200, trades))
    (row,) = TaobaoDay(TaobaoStock()).rows(send, router, START, END, NOW, Problems())
    assert (row.status, row.amount) == (PlatformStatus.CANCELLED, Decimal("9.90"))
    sent = dict(parse_qsl(send.calls[0].body.decode()))
    assert (sent["start_created"], sent["end_created"]) == (
        "2024-05-01 00:00:00",
        "2024-05-01 23:59:59",
    )

    orders = {
        "order_list_get_response": {
            "has_next": False,
            "order_list": [
                {"order_sn": "240501-1", "order_status": 2, "refund_status": 1, "pay_amount": 19.9}
            ],
        }
    }
    send = Pages((200, orders))
    (row,) = PinduoduoDay(PinduoduoStock()).rows(send, router, START, END, NOW, Problems())
    assert (row.order_id, row.status) == ("240501-1", PlatformStatus.SHIPPED)
    sent = dict(parse_qsl(send.calls[0].body.decode()))
    assert int(sent["end_confirm_at"]) - int(sent["start_confirm_at"]) == 86399  # within 24 h
