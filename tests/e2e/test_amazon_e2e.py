"""Amazon on the local stack. An ORDER_CHANGE notification put into
`orderhub-amazon-notifications` as Amazon would is consumed by the stack's worker and booked
through the order queue WITH its prices, which the processor fetched from the stub platform's
Orders API (getOrder + getOrderItems, behind its LWA token); the same notification again
books nothing more. The backup poll (`poll_amazon`) books an order whose notification never
came, once."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.conftest import fixture_json
from tests.e2e.conftest import SEED

pytestmark = pytest.mark.e2e

EXAMPLE = fixture_json("amazon/OrderChangeNotification_example0.json")
SELLER = next(s for s in SEED["stores"] if s["platform"] == "amazon")["store_id"]
SKU = "KETTLE-CLAY-1L"  # seeded: 8 in wh-shanghai
ORDER_ID = "114-4700001-0000001"
NOTIFICATION_ID = "e2e-amazon-notification-1"
QUEUE = "orderhub-amazon-notifications"


def amazon_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seed_order(stack, order_id: str, updated: datetime, sku: str, quantity: int, price: str):
    """The order as the stub's Orders API will answer for it (over Amazon's sandbox sample)."""
    response = requests.post(
        f"{stack.stub}/_stub/amazon/orders",
        json={
            "seller_id": SELLER,
            "order": {
                "AmazonOrderId": order_id,
                "OrderStatus": "Unshipped",
                "LastUpdateDate": amazon_time(updated),
                "OrderTotal": {"CurrencyCode": "USD", "Amount": price},
            },
            "items": [
                {
                    "SellerSKU": sku,
                    "QuantityOrdered": quantity,
                    "ItemPrice": {"CurrencyCode": "USD", "Amount": price},
                }
            ],
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text


def notification() -> str:
    """The fixture's shape, for our dev seller, a seeded SKU and a time of now (UTC)."""
    document = copy.deepcopy(EXAMPLE)
    change = document["Payload"]["OrderChangeNotification"]
    change.update(SellerId=SELLER, AmazonOrderId=ORDER_ID)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    change["OrderChangeTrigger"]["TimeOfOrderChange"] = now
    document["EventTime"] = now  # Amazon's send time: what clock skew is measured on
    change["Summary"]["OrderItems"][0].update(SellerSKU=SKU, Quantity=2)
    document["NotificationMetadata"]["NotificationId"] = NOTIFICATION_ID
    return json.dumps(document)


def stock(stack) -> dict[str, Any]:
    return dict(stack.get(f"/inventory/{SKU}").json()["total"])


def trail_attempts(stack, key: str = f"amazon#{SELLER}#{NOTIFICATION_ID}") -> list[dict[str, Any]]:
    item = stack.client("dynamodb").get_item(
        TableName="orderhub-trail",
        Key={"event_key": {"S": key}},
        ConsistentRead=True,
    )
    attempts = item.get("Item", {}).get("attempts", {}).get("L", [])
    return [{k: next(iter(v.values())) for k, v in a["M"].items()} for a in attempts]


def wait_until(check, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not seen within {timeout} s")


def test_an_amazon_notification_is_booked_once_with_its_prices(stack):
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    body = notification()
    before = stock(stack)
    updated = datetime.now(UTC).replace(microsecond=0)
    seed_order(stack, ORDER_ID, updated, SKU, 2, "59.80")  # Amazon's side of the order

    sqs.send_message(QueueUrl=url, MessageBody=body)
    order = stack.wait_for("amazon", SELLER, ORDER_ID)
    assert order["booking"] == "locked" and order["status"] == "paid"
    assert order["version"] == 1 and order["currency"] == "USD"
    # the notification has no prices: these came from getOrderItems on the stub
    assert [(li["sku"], li["quantity"], li["unit_price"]) for li in order["lines"]] == [
        (SKU, 2, "29.90")
    ]
    assert order["updated_at_raw"] == amazon_time(updated)  # getOrder's LastUpdateDate
    assert [(h["sku"], h["locked"]) for h in order["holds"]] == [(SKU, 2)]
    booked = stock(stack)
    assert booked["locked"] == before["locked"] + 2
    assert booked["available"] == before["available"] - 2

    sqs.send_message(QueueUrl=url, MessageBody=body)  # SQS redelivers, or Amazon resends
    wait_until(lambda: len(trail_attempts(stack)) == 2, "the second delivery's attempt")
    stack.wait_for_empty_queue()
    assert [a["outcome"] for a in trail_attempts(stack)] == ["booked", "duplicate"]
    again = stack.get(f"/orders/amazon/{SELLER}/{ORDER_ID}").json()
    assert again["version"] == 1 and again["booking"] == "locked"
    assert stock(stack) == booked


def test_the_backup_poll_books_an_order_whose_notification_never_came_once(stack):
    order_id, sku = "114-4700002-0000002", "CUP-CELADON-2PK"
    before = dict(stack.get(f"/inventory/{sku}").json()["total"])
    # updated 4 minutes ago: past the poll's settle lag (Amazon wants >= 2 min)
    seed_order(stack, order_id, datetime.now(UTC) - timedelta(minutes=4), sku, 1, "12.50")

    polled = stack.run_job("poll_amazon")
    assert polled["stores"][SELLER]["status"] == "ok", polled
    order = stack.wait_for("amazon", SELLER, order_id)
    assert order["status"] == "paid" and order["booking"] == "locked"
    assert order["currency"] == "USD"
    assert [(li["sku"], li["quantity"], li["unit_price"]) for li in order["lines"]] == [
        (sku, 1, "12.50")
    ]
    stack.wait_for_empty_queue()
    after = dict(stack.get(f"/inventory/{sku}").json()["total"])
    assert after["locked"] == before["locked"] + 1

    # the next run reads that window again (the overlap) and finds the version held: nothing
    # queued, nothing booked twice
    again = stack.run_job("poll_amazon")
    assert again["stores"][SELLER]["status"] == "ok", again
    assert again["stores"][SELLER]["queued"] == 0
    stack.wait_for_empty_queue()
    final = stack.get(f"/orders/amazon/{SELLER}/{order_id}").json()
    assert final["version"] == 1
    assert dict(stack.get(f"/inventory/{sku}").json()["total"]) == after
