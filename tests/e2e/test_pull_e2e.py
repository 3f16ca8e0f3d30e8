"""End to end on the local stack: one order on each pull platform (Taobao/Tmall through TMC,
Pinduoduo, JD), seeded into the stub routers, read by the poll jobs over loopback, queued and
booked; then each platform's redelivery (a TMC message handed out again, a window listed
again) books nothing more."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from tests.e2e.conftest import SEED

SKU = "TEA-LONGJING-250G"  # seeded stock; the pull stores map SKUs by identity
STORES = {s["platform"]: s["store_id"] for s in SEED["stores"]}
PLATFORMS = ("taobao", "pinduoduo", "jd")


def stub_url(stack) -> str:
    return str(json.loads(stack.state_file.read_text())["pull_stub_url"])


def stub(stack, path: str, body: dict[str, Any] | None = None) -> Any:
    url = f"{stub_url(stack)}{path}"
    if body is None:
        return requests.get(url, timeout=10).json()
    response = requests.post(url, json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def available(stack) -> int:
    return int(stack.get(f"/inventory/{SKU}").json()["total"]["available"])


def poll_until_booked(stack, platform: str, order_id: str, timeout: float = 45) -> dict:
    """Run the platform's poll job on demand until the order is stored (the stack's own
    scheduler runs it every minute too; either may find it first)."""
    deadline = time.monotonic() + timeout
    while True:
        summary = stack.run_job(f"poll_{platform}")
        assert summary["stores"][STORES[platform]]["status"] == "ok", summary
        response = stack.get(f"/orders/{platform}/{STORES[platform]}/{order_id}")
        if response.status_code == 200:
            return dict(response.json())
        if time.monotonic() > deadline:
            raise AssertionError(f"{platform} order {order_id} not booked within {timeout} s")
        time.sleep(1)


def taobao_trade(tid: int) -> dict[str, Any]:
    return {
        "tid": tid,
        "status": "WAIT_SELLER_SEND_GOODS",
        "payment": "88.00",
        "receiver_name": "李雷",
        "receiver_mobile": "13812345678",
        "receiver_address": "上海市黄浦区南京东路1号",
        "orders": {"order": [{"outer_sku_id": SKU, "num": 1, "price": "88.00"}]},
    }


def pdd_order(order_sn: str) -> dict[str, Any]:
    return {
        "order_sn": order_sn,
        "order_status": 1,
        "refund_status": 1,
        "confirm_status": 1,
        "item_list": [{"outer_id": SKU, "goods_count": 1, "goods_price": 88.0}],
        "receiver_name": "韩梅梅",
        "receiver_phone": "13900001111",
        "address": "广州市天河区体育西路1号",
    }


def jd_order(order_id: str) -> dict[str, Any]:
    item = {"skuId": "1001", "outerSkuId": SKU, "itemTotal": "1", "jdPrice": "88.00"}
    return {
        "orderId": order_id,
        "orderState": "WAIT_SELLER_STOCK_OUT",
        "orderTotalPrice": "88.00",
        "itemInfoList": [item],
        "consigneeInfo": {"fullname": "王小明", "mobile": "13700002222", "fullAddress": "北京"},
    }


def rewind_cursor(stack, platform: str, minutes: int) -> None:
    """Put a store's cursor back, as if a cursor write had been lost: the platform then lists
    the same states again."""
    position = (datetime.now(UTC) - timedelta(minutes=minutes)).replace(microsecond=0)
    stack.client("dynamodb").update_item(
        TableName="orderhub-poll-cursors",
        Key={"cursor_id": {"S": f"{platform}#{STORES[platform]}"}},
        UpdateExpression="SET #p = :p, #v = #v + :one",
        ExpressionAttributeNames={"#p": "position", "#v": "version"},
        ExpressionAttributeValues={":p": {"S": position.isoformat()}, ":one": {"N": "1"}},
    )


def test_one_order_per_pull_platform_is_polled_booked_and_redelivered_without_effect(stack):
    stamp = int(time.time())
    tid = 3_900_000_000_000_000_000 + stamp  # 64-bit, beyond a double
    order_sn = f"261125-{stamp:015d}"
    jd_id = f"3{stamp:014d}"
    stack.wait_for_empty_queue()  # earlier tests' orders settled
    before = available(stack)
    seeded = stub(stack, "/_stub/taobao/orders", {"trade": taobao_trade(tid)})
    stub(stack, "/_stub/pinduoduo/orders", {"order": pdd_order(order_sn)})
    stub(stack, "/_stub/jd/orders", {"order": jd_order(jd_id)})
    time.sleep(3)  # locally the query windows stay 2 s behind the clock
    orders = {
        "taobao": poll_until_booked(stack, "taobao", str(tid)),
        "pinduoduo": poll_until_booked(stack, "pinduoduo", order_sn),
        "jd": poll_until_booked(stack, "jd", jd_id),
    }
    for platform, order in orders.items():
        assert order["booking"] == "locked", (platform, order)
        assert order["currency"] == "CNY"
        assert [(h["sku"], h["locked"]) for h in order["holds"]] == [(SKU, 1)], platform
        assert order["version"] == 1
    assert orders["taobao"]["order_id"] == str(tid)
    assert seeded["message_id"] in stub(stack, "/_stub/taobao/confirmed")
    stack.wait_for_empty_queue()
    assert available(stack) == before - 3

    # Redeliveries: TMC hands the confirmed message out again; Pinduoduo and JD list the same
    # states again.
    stub(stack, "/_stub/taobao/redeliver", {"message_id": seeded["message_id"]})
    rewind_cursor(stack, "pinduoduo", 10)
    rewind_cursor(stack, "jd", 10)
    for platform in PLATFORMS:
        summary = stack.run_job(f"poll_{platform}")
        assert summary["stores"][STORES[platform]]["status"] == "ok", summary
    assert seeded["message_id"] in stub(stack, "/_stub/taobao/confirmed")  # confirmed again
    stack.wait_for_empty_queue()
    for platform, order in orders.items():
        again = stack.get(f"/orders/{platform}/{STORES[platform]}/{order['order_id']}").json()
        assert again["version"] == 1 and again["booking"] == "locked", (platform, again)
    assert available(stack) == before - 3
