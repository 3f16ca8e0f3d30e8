"""One order from each HTTP webhook platform, signed as the platform signs it, booked on the
local stack; the platform's redelivery of the same delivery books nothing more."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from chalicelib.channels.body_hmac import sign_body_hmac
from tests.conftest import FIXTURES, fixture_json
from tests.e2e.conftest import SEED

pytestmark = pytest.mark.e2e


def seeded(platform: str) -> dict[str, Any]:
    return next(s for s in SEED["stores"] if s["platform"] == platform)


def post(stack, platform: str, store: str, raw: bytes, headers: dict[str, str]):
    return requests.post(
        f"{stack.api}/webhooks/{platform}/{store}", data=raw, headers=headers, timeout=10
    )


def available(stack, sku: str) -> int:
    return int(stack.get(f"/inventory/{sku}").json()["total"]["available"])


def test_shopify_order_is_booked_once(stack):
    store = seeded("shopify")
    payload = json.loads((FIXTURES / "shopify/orders_create_sample_statamic.json").read_text())
    # Shopify's test order is a cancelled, voided one; as a real order it is paid and open
    payload.update(financial_status="paid", cancelled_at=None, cancel_reason=None)
    raw = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "x-shopify-topic": "orders/create",  # header case as a proxy may deliver it
        "X-Shopify-Hmac-Sha256": sign_body_hmac(store["credentials"]["webhook_secret"], raw),
        "X-Shopify-Webhook-Id": "e2e-shopify-delivery-1",
        "X-Shopify-Event-Id": "e2e-shopify-event-1",
        "X-Shopify-Shop-Domain": "demo.myshopify.com",
    }
    cups_before = available(stack, "CUP-CELADON-2PK")
    first = post(stack, "shopify", store["store_id"], raw, headers)
    assert first.status_code == 200, first.text
    order = stack.wait_for("shopify", store["store_id"], str(payload["id"]))
    assert order["booking"] == "locked" and order["currency"] == "USD"
    assert sorted((h["sku"], h["locked"]) for h in order["holds"]) == [
        ("CUP-CELADON-2PK", 2),
        ("TEA-LONGJING-250G", 1),
    ]
    assert available(stack, "CUP-CELADON-2PK") == cups_before - 2

    again = post(stack, "shopify", store["store_id"], raw, headers)  # Shopify retries
    assert again.status_code == 200
    stack.wait_for_empty_queue()
    order_after = stack.wait_for("shopify", store["store_id"], str(payload["id"]))
    assert order_after["version"] == order["version"]
    assert available(stack, "CUP-CELADON-2PK") == cups_before - 2


def test_woocommerce_ping_then_order_is_booked_once(stack):
    store = seeded("woocommerce")
    secret = store["credentials"]["webhook_secret"]
    ping = post(
        stack,
        "woocommerce",
        store["store_id"],
        b"webhook_id=7",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert ping.status_code == 200

    vector = fixture_json("woocommerce/signature_vector_derived.json")
    raw = str(vector["raw_body"]).encode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Source": "https://example.com/",
        "X-WC-Webhook-Delivery-ID": "e2e-woo-delivery-1",
        "X-WC-Webhook-Signature": sign_body_hmac(secret, raw),
    }
    order_id = str(json.loads(raw)["id"])
    first = post(stack, "woocommerce", store["store_id"], raw, headers)
    assert first.status_code == 200, first.text
    order = stack.wait_for("woocommerce", store["store_id"], order_id)
    assert order["booking"] == "locked"  # processing = paid
    assert sorted((h["sku"], h["locked"]) for h in order["holds"]) == [
        ("CUP-CELADON-2PK", 1),
        ("TEA-LONGJING-250G", 2),
    ]
    # WooCommerce sends the same order again with a new delivery id: the same order state
    headers["X-WC-Webhook-Delivery-ID"] = "e2e-woo-delivery-2"
    assert post(stack, "woocommerce", store["store_id"], raw, headers).status_code == 200
    stack.wait_for_empty_queue()
    assert stack.wait_for("woocommerce", store["store_id"], order_id)["version"] == order["version"]
