"""An Amazon ORDER_CHANGE notification on the local stack: put into `orderhub-amazon-notifications`
as Amazon would, consumed by the stack's worker, booked through the order queue; the same
notification again books nothing more."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import fixture_json
from tests.e2e.conftest import SEED

pytestmark = pytest.mark.e2e

EXAMPLE = fixture_json("amazon/OrderChangeNotification_example0.json")
SELLER = next(s for s in SEED["stores"] if s["platform"] == "amazon")["store_id"]
SKU = "KETTLE-CLAY-1L"  # seeded: 8 in wh-shanghai
ORDER_ID = "114-4700001-0000001"
NOTIFICATION_ID = "e2e-amazon-notification-1"
QUEUE = "orderhub-amazon-notifications"


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


def trail_attempts(stack) -> list[dict[str, Any]]:
    item = stack.client("dynamodb").get_item(
        TableName="orderhub-trail",
        Key={"event_key": {"S": f"amazon#{SELLER}#{NOTIFICATION_ID}"}},
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


def test_an_amazon_notification_is_booked_once(stack):
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    body = notification()
    before = stock(stack)

    sqs.send_message(QueueUrl=url, MessageBody=body)
    order = stack.wait_for("amazon", SELLER, ORDER_ID)
    assert order["booking"] == "locked" and order["status"] == "paid"
    assert order["version"] == 1 and order["currency"] == ""
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
