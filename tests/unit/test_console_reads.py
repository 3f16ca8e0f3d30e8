"""The console's pure parts: the phone blind index, search filters and cursors, buyer
lifecycle tags, stock policy parsing, the board, and the links notices carry."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain.anomalies import AnomalyRecord, link_for
from chalicelib.domain.blind_index import normalise_phone, phone_index, valid_index
from chalicelib.domain.board import PlacedRow, board_days, board_view, day_totals
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import StockLevel
from chalicelib.domain.order_search import (
    OrderRow,
    SearchFilters,
    decode_cursor,
    encode_cursor,
    lifecycle,
    parse_filters,
    parse_thresholds,
)
from chalicelib.domain.stock_list import parse_policy, parse_warehouse, sku_views

KEY = b"k" * 32
NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    "typed",
    ["13812345678", "138 1234 5678", "+86 138-1234-5678", "008613812345678", "86.138.1234.5678"],
)
def test_the_forms_people_type_index_the_same(typed):
    assert normalise_phone(typed) == "13812345678"
    assert phone_index(KEY, typed) == phone_index(KEY, "13812345678")


def test_the_index_is_keyed_and_never_the_phone():
    found = phone_index(KEY, "13812345678")
    assert valid_index(found) and "13812345678" not in found
    assert phone_index(b"x" * 32, "13812345678") != found  # another key, another index
    assert phone_index(KEY, "13812345679") != found
    assert phone_index(KEY, "not a phone") == "" and phone_index(b"", "13812345678") == ""


def test_filters_name_the_bad_parameter():
    for params, word in [
        ({"status": "lost"}, "status"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-11-25", "to": "2026-11-24"}, "to"),
        ({"store": "demo-shop"}, "store"),
        ({"buyer": "13812345678"}, "buyer"),
        ({"limit": "0"}, "limit"),
        ({"sort": "x"}, "sort"),
        ({"include": "raw"}, "include"),
    ]:
        with pytest.raises(InvalidPayload, match=word):
            parse_filters(params)
    filters = parse_filters({"store": "mall/demo-shop", "status": "paid,shipped", "limit": "5"})
    assert (filters.platform, filters.store, filters.statuses, filters.limit) == (
        "mall",
        "demo-shop",
        ("paid", "shipped"),
        5,
    )


def test_a_cursor_only_works_with_its_own_filters():
    filters = parse_filters({"platform": "mall"})
    cursor = encode_cursor(filters, "2026-11-25T08:00:00.000000Z#o-1")
    assert decode_cursor(cursor, filters) == "2026-11-25T08:00:00.000000Z#o-1"
    with pytest.raises(InvalidPayload, match="other filters"):
        decode_cursor(cursor, parse_filters({"platform": "shopify"}))
    with pytest.raises(InvalidPayload, match="cursor"):
        decode_cursor("garbage!", filters)


def test_day_range_is_beijing_days():
    low, high = SearchFilters(
        day_from=date(2026, 11, 25), day_to=date(2026, 11, 25)
    ).created_range()
    assert low.startswith("2026-11-24T16:00:00") and high.startswith("2026-11-25T16:00:00")


def row(days_ago: int, status: str = "paid", amount: str = "10") -> OrderRow:
    at = (NOW - timedelta(days=days_ago)).isoformat()
    return OrderRow("mall", "s", f"o{days_ago}", status, "locked", at, at, amount, "CNY", "", at)


def test_lifecycle_tags_follow_the_thresholds():
    limits = parse_thresholds('{"vip_orders": 3, "dormant_days": 30, "lost_days": 60}')
    assert lifecycle([], NOW, limits).tag == "none"
    assert lifecycle([row(1)], NOW, limits).tag == "new"
    assert lifecycle([row(1), row(2)], NOW, limits).tag == "repeat"
    assert lifecycle([row(1), row(2), row(3)], NOW, limits).tag == "vip"
    assert lifecycle([row(1, amount="6000")], NOW, limits).tag == "vip"
    assert lifecycle([row(40)], NOW, limits).tag == "dormant"
    assert lifecycle([row(70), row(80)], NOW, limits).tag == "lost"
    assert lifecycle([row(1, status="cancelled")], NOW, limits).tag == "none"
    with pytest.raises(ValueError, match="dormant_days"):
        parse_thresholds('{"dormant_days": 90, "lost_days": 30}')
    with pytest.raises(ValueError, match="unknown"):
        parse_thresholds('{"vip": 3}')


def test_stock_policy_keeps_what_is_not_given_and_names_bad_fields():
    current = StockLevel("SKU-A", "w1", 10, 0, 0, 10, 2, 1, ("tiktok",))
    assert parse_policy({"safety_stock": 5}, current).to_dict() == {
        "safety_stock": 5,
        "holdback": 1,
        "holdback_channels": ["tiktok"],
    }
    for body, word in [
        ({"safety_stock": -1}, "safety_stock"),
        ({"holdback": 2, "holdback_channels": []}, "holdback_channels"),
        ({"colour": "red"}, "colour"),
        ({}, "at least one"),
    ]:
        with pytest.raises(InvalidPayload, match=word):
            parse_policy(body, current)
    with pytest.raises(InvalidPayload, match="priority"):
        parse_warehouse("w9", {"region": "east", "priority": 0}, None)


def test_stock_list_flags_low_items_and_limited_sale():
    views = sku_views(
        [StockLevel("A", "w1", 3, 0, 0, 3, 5), StockLevel("A", "w2", 1, 0, 0, 1, 0)],
        {"A": [{"platform": "mall", "store": "s", "quantity": 4, "at": "t"}]},
    )
    (view,) = views
    assert view["low"] and view["limited_sale"] and view["total"]["available"] == 4
    assert [w["low"] for w in view["warehouses"]] == [True, False]
    assert view["channels"][0]["quantity"] == 4


def test_board_sums_per_platform_and_marks_targets():
    days = board_days({"from": "2026-11-24", "to": "2026-11-25"}, date(2026, 11, 25))
    count, gmv = day_totals(
        [
            PlacedRow("paid", "locked", "10.50", "CNY"),
            PlacedRow("cancelled", "released", "5", "CNY"),
        ]
    )
    assert (count, gmv["CNY"]) == (2, 10.5)
    view = board_view(
        days,
        {"mall": {"2026-11-25": (count, gmv)}},
        {"2026-11-25": {"new_orders": 2, "oversell_rate_pct": 0.0, "anomaly_ratio_pct": 5.0}},
        {"2026-11-25": [1.0, 3.0, 100.0]},
    )
    points = view["platforms"][0]["days"]
    assert points[0]["orders"] == 0 and points[1] == {
        "day": "2026-11-25",
        "orders": 2,
        "gmv": {"CNY": "10.50"},
    }
    last = view["metrics"][1]
    assert last["sync_latency_p50_seconds"] == {"value": 3.0, "target": 60.0, "met": True}
    assert last["anomaly_ratio_pct"]["met"] is False and last["oversell_rate_pct"]["met"] is True
    assert last["customer_chase_rate_pct"]["met"] is None
    with pytest.raises(InvalidPayload, match="14 days"):
        board_days({"from": "2026-01-01", "to": "2026-11-25"}, date(2026, 11, 25))


def test_notices_link_to_the_console_screens():
    order = AnomalyRecord(
        "out_of_stock#mall#demo-shop#o 7", "out_of_stock", "mall#demo-shop#o 7", "P0", "open"
    )
    assert link_for(order, "http://127.0.0.1:8000/") == (
        "http://127.0.0.1:8000/console#/orders/mall/demo-shop/o%207"
    )
    stock = AnomalyRecord("inventory_drift#SKU-A#w1", "inventory_drift", "SKU-A#w1", "P0", "open")
    assert link_for(stock, "https://api.example.com/api") == (
        "https://api.example.com/api/console#/anomalies/inventory_drift%23SKU-A%23w1"
    )
    assert link_for(order, "") == ""


def test_search_indexes_are_infra_and_project_no_buyer_data():
    from local.provision import load_template

    resources = load_template()["Resources"]
    orders = resources["OrdersTable"]["Properties"]["GlobalSecondaryIndexes"]
    found = {g["IndexName"]: g for g in orders}
    for name in ("created_day", "platform_day", "store_created", "order_id_prefix", "buyer"):
        projection = found[name]["Projection"]
        assert projection["ProjectionType"] == "INCLUDE", name
        assert not {"buyer", "lines"} & set(projection["NonKeyAttributes"]), name
    stock = resources["InventoryTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert "stock_list" in {g["IndexName"] for g in stock}
    secret = resources["BlindIndexSecret"]
    assert secret["Properties"]["Name"] == "orderhub/blind-index"
    assert secret["DeletionPolicy"] == "Retain"  # without it no phone search works again
    env = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert env["ORDERHUB_BLIND_INDEX_SECRET"] == {"Ref": "BlindIndexSecret"}
