"""BigCommerce on the local stack: the order seeded in the stub platform's Orders API, a signed
thin webhook posted, the processor fetches the order and books its lines; BigCommerce's retry
of the same webhook books nothing more; a later status change (fetched again) releases it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from chalicelib.channels.bigcommerce import raw_secret_key
from chalicelib.channels.standard_webhooks import sign_standard_webhook
from tests.e2e.conftest import SEED

pytestmark = pytest.mark.e2e

STORE = next(s for s in SEED["stores"] if s["platform"] == "bigcommerce")
CREDENTIALS = STORE["credentials"]
ORDER_ID = 7250
TEA, KETTLE = "TEA-LONGJING-250G", "KETTLE-CLAY-1L"


def seed_order(stack, status_id: int, modified: str) -> None:
    order = {
        "id": ORDER_ID,
        "date_created": "Wed, 25 Nov 2026 07:58:00 +0000",
        "date_modified": modified,
        "status_id": status_id,
        "currency_code": "USD",
        "is_deleted": False,
        "billing_address": {"first_name": "Trisha", "last_name": "McLaughlin", "city": "Austin"},
    }
    products = [
        {"id": 1, "product_id": 11, "sku": TEA, "quantity": 2, "price_inc_tax": "18.5000"},
        {"id": 2, "product_id": 12, "sku": KETTLE, "quantity": 1, "base_price": "96.0000"},
    ]
    response = requests.post(
        f"{stack.stub}/_stub/bigcommerce/orders",
        json={
            "store_hash": CREDENTIALS["store_hash"],
            "access_token": CREDENTIALS["access_token"],
            "order": order,
            "products": products,
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text


def post_hook(stack, scope: str, msg_id: str, **data: Any) -> requests.Response:
    """Signed as BigCommerce signs: Standard Webhooks, keyed with the raw client secret."""
    raw = json.dumps(
        {
            "scope": scope,
            "store_id": "1025646",
            "data": {"type": "order", "id": ORDER_ID, **data},
            "hash": "e2e",
            "created_at": int(datetime.now(UTC).timestamp()),
            "producer": f"stores/{CREDENTIALS['store_hash']}",
        }
    ).encode()
    now = datetime.now(UTC)  # each retry is signed afresh; the webhook-id stays
    key = raw_secret_key(CREDENTIALS["client_secret"])
    headers = {
        "Content-Type": "application/json",
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": sign_standard_webhook(key, msg_id, now, raw),
    }
    url = f"{stack.api}/webhooks/bigcommerce/{STORE['store_id']}"
    return requests.post(url, data=raw, headers=headers, timeout=10)


def available(stack, sku: str) -> int:
    return int(stack.get(f"/inventory/{sku}").json()["total"]["available"])


def test_bigcommerce_order_is_fetched_and_booked_once_then_released(stack):
    seed_order(stack, 11, "Wed, 25 Nov 2026 07:59:30 +0000")  # Awaiting Fulfillment: paid
    tea, kettle = available(stack, TEA), available(stack, KETTLE)

    first = post_hook(stack, "store/order/created", "e2e-bc-1")
    assert first.status_code == 200, first.text
    assert first.json()["events"] == [f"bigcommerce#{STORE['store_id']}#e2e-bc-1"]
    order = stack.wait_for("bigcommerce", STORE["store_id"], str(ORDER_ID))
    assert order["booking"] == "locked" and order["status"] == "paid"
    assert order["currency"] == "USD"
    assert sorted((h["sku"], h["locked"]) for h in order["holds"]) == [(KETTLE, 1), (TEA, 2)]
    assert (available(stack, TEA), available(stack, KETTLE)) == (tea - 2, kettle - 1)

    again = post_hook(stack, "store/order/created", "e2e-bc-1")  # BigCommerce retries
    assert again.status_code == 200
    stack.wait_for_empty_queue()
    after = stack.wait_for("bigcommerce", STORE["store_id"], str(ORDER_ID))
    assert after["version"] == order["version"]
    assert (available(stack, TEA), available(stack, KETTLE)) == (tea - 2, kettle - 1)

    seed_order(stack, 5, "Wed, 25 Nov 2026 08:10:00 +0000")  # the merchant cancels it
    status = {"previous_status_id": 11, "new_status_id": 5}
    assert post_hook(stack, "store/order/statusUpdated", "e2e-bc-2", status=status).ok
    cancelled = stack.wait_for(
        "bigcommerce", STORE["store_id"], str(ORDER_ID), version=order["version"] + 1
    )
    assert cancelled["booking"] == "released" and cancelled["status"] == "cancelled"
    assert (available(stack, TEA), available(stack, KETTLE)) == (tea, kettle)
