"""TikTok Shop's Get Order Detail and Douyin's order.orderDetail answers read into order details:
field by field, status mappings consistent with each channel's webhook, fen to yuan exactly,
and errors that name the field."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.channels import douyin, tiktok
from chalicelib.channels.douyin_api import (
    STATUSES as DOUYIN_STATUSES,
)
from chalicelib.channels.douyin_api import (
    douyin_refusal,
    fen,
    parse_douyin_answer,
)
from chalicelib.channels.tiktok_api import parse_tiktok_answer, tiktok_refusal
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import Buyer, OrderLine, PlatformStatus
from chalicelib.domain.ports import Store

TIKTOK_ORDER_ID = "576684019603311365"
DOUYIN_ORDER_ID = "4781320682406083640"


def tiktok_answer(**order: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": TIKTOK_ORDER_ID,
        "status": "AWAITING_SHIPMENT",
        "create_time": 1664095500,
        "update_time": 1664095610,
        "payment": {"currency": "USD", "total_amount": "37.50", "sub_total": "37.50"},
        "line_items": [
            {"id": "1", "sku_id": "1729", "seller_sku": "TEA-1", "sale_price": "12.50"},
            {"id": "2", "sku_id": "1729", "seller_sku": "TEA-1", "sale_price": "12.50"},
            {"id": "3", "sku_id": "9001", "seller_sku": "", "sale_price": "12.50"},
        ],
        "recipient_address": {
            "name": "Jane Doe",
            "phone_number": "(+1)213-***-1234",
            "full_address": "1 Main St, Los Angeles, CA 90001",
            "postal_code": "90001",
        },
    }
    base.update(order)
    return {"code": 0, "message": "Success", "request_id": "r1", "data": {"orders": [base]}}


def douyin_answer(**order: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "order_id": DOUYIN_ORDER_ID,
        "order_status": 105,
        "order_status_desc": "已支付",
        "create_time": 1795593600,
        "update_time": 1795593660,
        "pay_amount": 8800,
        "sku_order_list": [
            {
                "sku_id": 3476,
                "code": "TEA-1",
                "item_num": 2,
                "origin_amount": 2900,
                "sum_amount": 5800,
            },
            {"sku_id": 3477, "code": "", "item_num": 3, "sum_amount": 3000},
        ],
        "post_receiver": "张三",
        "post_tel": "138****0000",
        "post_addr": {
            "province": {"id": "31", "name": "上海市"},
            "city": {"id": "310100", "name": "上海市"},
            "town": {"id": "310104", "name": "徐汇区"},
            "street": {"id": "0", "name": ""},
            "detail": "漕溪北路1号",
        },
    }
    base.update(order)
    return {
        "code": 10000,
        "msg": "success",
        "sub_code": "",
        "sub_msg": "",
        "log_id": "l1",
        "data": {"shop_order_detail": base},
    }


# ---- TikTok ----------------------------------------------------------------------------------


def test_tiktok_order_read_field_by_field():
    details = parse_tiktok_answer(TIKTOK_ORDER_ID, tiktok_answer())
    assert details is not None
    assert details.status is PlatformStatus.PAID
    assert details.updated_at == datetime.fromtimestamp(1664095610, UTC)
    assert details.updated_at.tzinfo is UTC
    assert details.updated_at_raw == "1664095610"
    assert details.currency == "USD"
    # one entry per unit: merged by seller SKU; no seller SKU: the platform's sku id as text
    assert details.lines == (
        OrderLine("TEA-1", 2, Decimal("12.50")),
        OrderLine("9001", 1, Decimal("12.50")),
    )
    assert details.buyer == Buyer(
        "Jane Doe", "(+1)213-***-1234", "1 Main St, Los Angeles, CA 90001"
    )


def test_tiktok_units_at_different_prices_keep_their_mean():
    items = [
        {"sku_id": "1", "seller_sku": "A", "sale_price": "10.00"},
        {"sku_id": "1", "seller_sku": "A", "sale_price": "9.00"},
        {"sku_id": "1", "seller_sku": "A", "sale_price": "9.00", "original_price": "10.00"},
        {"sku_id": "2", "seller_sku": "B", "original_price": "5"},  # no sale price
        {"sku_id": "3", "seller_sku": "C", "sale_price": "2.00", "quantity": 3},
    ]
    details = parse_tiktok_answer(TIKTOK_ORDER_ID, tiktok_answer(line_items=items))
    assert details is not None
    assert details.lines == (
        OrderLine("A", 3, Decimal("9.3333")),  # 28.00 / 3 rounded to 4 places
        OrderLine("B", 1, Decimal("5")),
        OrderLine("C", 3, Decimal("2.00")),
    )


def test_tiktok_unit_cancelled_on_its_own_holds_nothing():
    items = [
        {"sku_id": "1", "seller_sku": "A", "sale_price": "1.00"},
        {"sku_id": "1", "seller_sku": "A", "sale_price": "1.00", "display_status": "CANCELLED"},
    ]
    details = parse_tiktok_answer(TIKTOK_ORDER_ID, tiktok_answer(line_items=items))
    assert details is not None and details.lines == (OrderLine("A", 1, Decimal("1.00")),)
    cancelled = parse_tiktok_answer(
        TIKTOK_ORDER_ID, tiktok_answer(status="CANCELLED", line_items=items)
    )
    assert cancelled is not None and cancelled.lines == (OrderLine("A", 2, Decimal("1.00")),)


def webhook_status(status: str) -> PlatformStatus:
    body = json.dumps(
        {
            "type": 1,
            "shop_id": "7494726673780148744",
            "timestamp": 1664095733,
            "data": {"order_id": "1", "order_status": status, "update_time": 1664095610},
        }
    ).encode()
    store = Store("tiktok", "s", "secret/tiktok", "UTC")
    (event,) = tiktok.parse_tiktok_webhook(body, store, datetime(2026, 1, 1, tzinfo=UTC))
    return event.status


@pytest.mark.parametrize("status", [*tiktok.STATUSES, *tiktok.LEGACY_CODES])
def test_tiktok_status_maps_as_the_webhook_does(status):
    details = parse_tiktok_answer(TIKTOK_ORDER_ID, tiktok_answer(status=status))
    assert details is not None and details.status is webhook_status(status)


def test_tiktok_expected_statuses():
    expected = {
        "UNPAID": PlatformStatus.UNPAID,
        "ON_HOLD": PlatformStatus.PAID,
        "AWAITING_SHIPMENT": PlatformStatus.PAID,
        "AWAITING_COLLECTION": PlatformStatus.SHIPPED,
        "COMPLETED": PlatformStatus.SHIPPED,
        "CANCELLED": PlatformStatus.CANCELLED,
    }
    for status, platform_status in expected.items():
        details = parse_tiktok_answer(TIKTOK_ORDER_ID, tiktok_answer(status=status))
        assert details is not None and details.status is platform_status


def test_tiktok_order_not_listed_is_none_and_refusals_are_described():
    assert parse_tiktok_answer("999", tiktok_answer()) is None
    empty = {"code": 0, "message": "Success", "data": {"orders": []}}
    assert tiktok_refusal(empty) is None and parse_tiktok_answer("1", empty) is None
    refused = {"code": 105002, "message": "access token is expired", "data": None}
    assert tiktok_refusal(refused) == "code 105002: access token is expired"
    with pytest.raises(InvalidPayload, match=r"\$\.code"):
        tiktok_refusal({"message": "no envelope"})


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"status": "LOST"}, r"\$\.data\.orders\[0\]\.status 'LOST'"),
        ({"update_time": None}, r"\$\.data\.orders\[0\]\.update_time is required"),
        ({"payment": {"currency": "dollars"}}, r"\$\.data\.orders\[0\]\.payment\.currency"),
        ({"line_items": None}, r"\$\.data\.orders\[0\]\.line_items is required"),
        (
            {"line_items": [{"sku_id": "1", "seller_sku": "A", "sale_price": "free"}]},
            r"\$\.data\.orders\[0\]\.line_items\[0\]\.sale_price",
        ),
        (
            {"line_items": [{"seller_sku": "", "sale_price": "1.00"}]},
            r"\$\.data\.orders\[0\]\.line_items\[0\]\.sku_id is required",
        ),
    ],
)
def test_tiktok_errors_name_the_field(change, path):
    with pytest.raises(InvalidPayload, match=path):
        parse_tiktok_answer(TIKTOK_ORDER_ID, tiktok_answer(**change))


# ---- Douyin ----------------------------------------------------------------------------------


def test_douyin_order_read_field_by_field():
    details = parse_douyin_answer(DOUYIN_ORDER_ID, douyin_answer())
    assert details is not None
    assert details.status is PlatformStatus.PAID
    assert details.updated_at == datetime.fromtimestamp(1795593660, UTC)
    assert details.updated_at_raw == "1795593660"
    assert details.currency == "CNY"
    assert details.lines == (
        OrderLine("TEA-1", 2, Decimal("29.00")),  # origin_amount: the unit price in fen
        OrderLine("3477", 3, Decimal("10.00")),  # no code: sku id; sum_amount / item_num
    )
    assert str(details.lines[0].unit_price) == "29.00"
    assert details.buyer == Buyer("张三", "138****0000", "上海市 上海市 徐汇区 漕溪北路1号")


@pytest.mark.parametrize(
    ("raw", "yuan"),
    [(8800, "88.00"), ("8800", "88.00"), (1, "0.01"), (0, "0.00"), (123456789, "1234567.89")],
)
def test_fen_is_exact_yuan(raw, yuan):
    amount = fen({"pay_amount": raw}, "pay_amount", "$")
    assert amount == Decimal(yuan) and str(amount) == yuan


@pytest.mark.parametrize("raw", [88.0, "88.00", -1, True, "", None])
def test_fen_refuses_anything_but_whole_fen(raw):
    with pytest.raises(InvalidPayload, match=r"\$\.x\.pay_amount"):
        fen({"pay_amount": raw}, "pay_amount", "$.x")


def test_douyin_statuses():
    expected = {
        1: PlatformStatus.UNPAID,
        103: PlatformStatus.UNPAID,
        105: PlatformStatus.PAID,
        2: PlatformStatus.PAID,
        101: PlatformStatus.SHIPPED,
        3: PlatformStatus.SHIPPED,
        5: PlatformStatus.SHIPPED,
        4: PlatformStatus.CANCELLED,
    }
    assert set(DOUYIN_STATUSES) == {str(k) for k in expected}
    for status, platform_status in expected.items():
        for given in (status, str(status)):
            details = parse_douyin_answer(DOUYIN_ORDER_ID, douyin_answer(order_status=given))
            assert details is not None and details.status is platform_status


@pytest.mark.parametrize(
    ("tag", "statuses"),
    [("100", (1,)), ("101", (105, 2)), ("102", (101, 3)), ("103", (5,)), ("106", (4,))],
)
def test_douyin_status_consistent_with_the_push_tags(tag, statuses):
    tagged = douyin.ORDER_TAGS[tag][1]
    for status in statuses:
        details = parse_douyin_answer(DOUYIN_ORDER_ID, douyin_answer(order_status=status))
        assert details is not None and details.status is tagged


def test_douyin_no_such_order_mismatch_and_refusals():
    missing = {"code": 10000, "msg": "success", "data": {}}
    assert douyin_refusal(missing) is None
    assert parse_douyin_answer(DOUYIN_ORDER_ID, missing) is None
    assert parse_douyin_answer(DOUYIN_ORDER_ID, {"code": 10000, "msg": "success"}) is None
    with pytest.raises(InvalidPayload, match=r"shop_order_detail\.order_id is 1,"):
        parse_douyin_answer(DOUYIN_ORDER_ID, douyin_answer(order_id="1"))
    refused = {
        "code": 30002,
        "msg": "access_token 已过期",
        "sub_code": "isv.access-token-expired",
        "sub_msg": "access_token已过期",
    }
    assert douyin_refusal(refused) == (
        "code 30002: access_token 已过期 (isv.access-token-expired: access_token已过期)"
    )


def test_douyin_encrypted_buyer_fields_are_not_read():
    answer = douyin_answer(
        post_receiver=None,
        post_tel=None,
        encrypt_post_receiver="#abc#",
        encrypt_post_tel="$def$",
        post_addr={"encrypt_detail": "#ghi#", "province": {"name": "上海市"}},
    )
    details = parse_douyin_answer(DOUYIN_ORDER_ID, answer)
    assert details is not None and details.buyer == Buyer("", "", "上海市")


def sku_list(**first: Any) -> list[dict[str, Any]]:
    items = copy.deepcopy(douyin_answer()["data"]["shop_order_detail"]["sku_order_list"])
    items[0].update(first)
    return items


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"order_status": 21}, r"\$\.data\.shop_order_detail\.order_status 21 is not a known"),
        ({"update_time": None}, r"\$\.data\.shop_order_detail\.update_time is required"),
        ({"sku_order_list": None}, r"\$\.data\.shop_order_detail\.sku_order_list is required"),
        (
            {"sku_order_list": sku_list(item_num=0)},
            r"shop_order_detail\.sku_order_list\[0\]\.item_num must be a positive",
        ),
        (
            {"sku_order_list": sku_list(origin_amount=29.0)},
            r"shop_order_detail\.sku_order_list\[0\]\.origin_amount must be a whole number",
        ),
        (
            {"sku_order_list": sku_list(code="", sku_id=None)},
            r"shop_order_detail\.sku_order_list\[0\]\.sku_id is required",
        ),
    ],
)
def test_douyin_errors_name_the_field(change, path):
    with pytest.raises(InvalidPayload, match=path):
        parse_douyin_answer(DOUYIN_ORDER_ID, douyin_answer(**change))
