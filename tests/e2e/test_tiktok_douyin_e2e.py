"""TikTok Shop and Douyin on the local stack: the order seeded in the stub platform's order API,
the platform's signed thin webhook posted (TikTok's from the shared fixture, Douyin's a JSON
array of push messages), the processor fetches the order through the signed API call and books
its lines; the same webhook again books nothing more."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from chalicelib.channels.douyin_signature import sign_douyin
from chalicelib.channels.tiktok_signature import sign_tiktok
from tests.conftest import FIXTURES
from tests.e2e.conftest import SEED

pytestmark = pytest.mark.e2e

TEA, CUP = "TEA-LONGJING-250G", "CUP-CELADON-2PK"


def seeded(platform: str) -> dict[str, Any]:
    return next(s for s in SEED["stores"] if s["platform"] == platform)


def available(stack, sku: str) -> tuple[int, int]:
    total = stack.get(f"/inventory/{sku}").json()["total"]
    return int(total["available"]), int(total["locked"])


def seed_order(stack, platform: str, credentials: dict[str, str], order: dict[str, Any]) -> None:
    fields = ("app_key", "app_secret", "access_token") + (
        ("shop_cipher",) if platform == "tiktok" else ()
    )
    body: dict[str, Any] = {**{k: credentials[k] for k in fields}, "order": order}
    response = requests.post(f"{stack.stub}/_stub/{platform}/orders", json=body, timeout=10)
    assert response.status_code == 201, response.text


def post(stack, platform: str, store: str, raw: bytes, headers: dict[str, str]):
    return requests.post(
        f"{stack.api}/webhooks/{platform}/{store}", data=raw, headers=headers, timeout=10
    )


def test_tiktok_order_seen_first_by_webhook_is_fetched_and_booked_once(stack):
    store = seeded("tiktok")
    credentials = store["credentials"]
    order_id = "576684019603399001"
    now = int(datetime.now(UTC).timestamp())
    seed_order(
        stack,
        "tiktok",
        credentials,
        {
            "id": order_id,
            "status": "AWAITING_SHIPMENT",
            "update_time": now,
            "payment": {"currency": "USD", "total_amount": "57.00"},
            "line_items": [  # one entry per unit
                {"id": "1", "sku_id": "1729001", "seller_sku": TEA, "sale_price": "18.50"},
                {"id": "2", "sku_id": "1729001", "seller_sku": TEA, "sale_price": "18.50"},
                {"id": "3", "sku_id": "1729002", "seller_sku": CUP, "sale_price": "20.00"},
            ],
            "recipient_address": {"name": "Jane Doe", "full_address": "1 Main St"},
        },
    )
    payload = json.loads(
        (FIXTURES / "tiktok_shop/order_status_change_ecomphp_test.json").read_text()
    )
    payload["shop_id"] = credentials["shop_id"]
    payload["timestamp"] = now
    payload["data"].update(order_id=order_id, update_time=now)
    raw = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "Authorization": sign_tiktok(credentials["app_key"], credentials["app_secret"], raw),
    }
    tea, cup = available(stack, TEA), available(stack, CUP)

    first = post(stack, "tiktok", store["store_id"], raw, headers)
    assert first.status_code == 200, first.text
    assert len(first.json()["events"]) == 1
    order = stack.wait_for("tiktok", store["store_id"], order_id)
    assert order["booking"] == "locked" and order["status"] == "paid"
    assert order["currency"] == "USD"
    assert sorted((h["sku"], h["locked"]) for h in order["holds"]) == [(CUP, 1), (TEA, 2)]
    assert available(stack, TEA) == (tea[0] - 2, tea[1] + 2)
    assert available(stack, CUP) == (cup[0] - 1, cup[1] + 1)

    again = post(stack, "tiktok", store["store_id"], raw, headers)  # the same webhook again
    assert again.status_code == 200
    stack.wait_for_empty_queue()
    after = stack.wait_for("tiktok", store["store_id"], order_id)
    assert after["version"] == order["version"]
    assert available(stack, TEA) == (tea[0] - 2, tea[1] + 2)
    assert available(stack, CUP) == (cup[0] - 1, cup[1] + 1)


def test_douyin_order_seen_first_by_push_is_fetched_and_booked_once(stack):
    store = seeded("douyin")
    credentials = store["credentials"]
    order_id = "4781320682406099001"
    now = int(datetime.now(UTC).timestamp())
    seed_order(
        stack,
        "douyin",
        credentials,
        {
            "order_id": order_id,
            "order_status": 2,  # 备货中: paid
            "update_time": now,
            "pay_amount": 8800,
            "sku_order_list": [
                {"sku_id": 3476, "code": TEA, "item_num": 1, "origin_amount": 5800},
                {"sku_id": 3477, "code": CUP, "item_num": 2, "origin_amount": 1500},
            ],
            "post_receiver": "张三",
            "post_addr": {"province": {"name": "上海市"}, "detail": "漕溪北路1号"},
        },
    )
    data = {
        "p_id": int(order_id),
        "shop_id": int(credentials["shop_id"]),
        "order_status": 2,
        "pay_time": now,
        "pay_amount": 8800,
    }
    messages = [
        {"tag": "101", "msg_id": "7093726437652699001", "data": json.dumps(data)},
        {"tag": "105", "msg_id": "7093726437652699002", "data": "{}"},  # not an order tag
    ]
    raw = json.dumps(messages, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "app-id": credentials["app_key"],
        "event-sign": sign_douyin(credentials["app_key"], credentials["app_secret"], raw),
    }
    tea, cup = available(stack, TEA), available(stack, CUP)

    first = post(stack, "douyin", store["store_id"], raw, headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"code": 0, "msg": "success"}
    order = stack.wait_for("douyin", store["store_id"], order_id)
    assert order["booking"] == "locked" and order["status"] == "paid"
    assert order["currency"] == "CNY"
    assert sorted((h["sku"], h["locked"]) for h in order["holds"]) == [(CUP, 2), (TEA, 1)]
    assert available(stack, TEA) == (tea[0] - 1, tea[1] + 1)
    assert available(stack, CUP) == (cup[0] - 2, cup[1] + 2)

    again = post(stack, "douyin", store["store_id"], raw, headers)  # pushed again
    assert again.status_code == 200
    stack.wait_for_empty_queue()
    after = stack.wait_for("douyin", store["store_id"], order_id)
    assert after["version"] == order["version"]
    assert available(stack, TEA) == (tea[0] - 1, tea[1] + 1)
    assert available(stack, CUP) == (cup[0] - 2, cup[1] + 2)
