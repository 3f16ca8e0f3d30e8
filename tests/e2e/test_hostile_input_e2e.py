"""Issue 12 on the local stack: the malformed but correctly signed requests the attack run
found answered 5xx (or 202, then parked in the DLQ) are refused 4xx `{"error", "message"}`
and queue nothing; the two-person reveal, void, address correction and export work as the
seed's roles say."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from chalicelib.channels.body_hmac import sign_body_hmac
from chalicelib.channels.standard_webhooks import sign_standard_webhook
from tests.builders import mall_payload
from tests.conftest import fixture_json
from tests.e2e.conftest import SECRET, SEED, STORE
from tests.e2e.fuzz import send_message_count
from tests.e2e.reveals import CS_KEY, OPS_KEY, bearer

pytestmark = pytest.mark.e2e

FINANCE_KEY = "oh_dev_finance_local_only"
TEA = [{"sku": "TEA-LONGJING-250G", "quantity": 1, "unit_price": "88.00"}]


def signed_mall(stack: Any, raw: bytes, msg_id: str) -> requests.Response:
    now = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": sign_standard_webhook(SECRET, msg_id, now, raw),
    }
    return requests.post(
        f"{stack.api}/webhooks/mall/{STORE['store_id']}", data=raw, headers=headers, timeout=30
    )


def refused(response: requests.Response, status: int = 400) -> str:
    assert response.status_code == status, (response.status_code, response.text[:300])
    found = response.json()
    assert set(found) == {"error", "message"} and found["message"], found
    return str(found["message"])


def with_data(**data: Any) -> bytes:
    payload = mall_payload(order_id="E2E-HOSTILE", lines=TEA)
    payload["data"].update(data)
    return json.dumps(payload).encode()


def test_malformed_but_signed_deliveries_are_refused_and_queue_nothing(stack):
    before = send_message_count(stack.aws)
    cases = {
        "year 1": with_data(updated_at="0001-01-01T00:00:00+01:00"),
        "year 9999": with_data(updated_at="9999-12-31T23:59:59Z"),
        "lone surrogate in a SKU": with_data(
            lines=[{"sku": "TEA-\ud800", "quantity": 1, "unit_price": "1.00"}]
        ),
        "lone surrogate in the buyer": with_data(
            buyer={"name": "\udfff", "phone": "1", "address": "1 Nanjing Road"}
        ),
        "nested 5,000 deep": b'{"type": "order.created", "data": '
        + b"[" * 5000
        + b"]" * 5000
        + b"}",
        "3,000-character order id": with_data(order_id="o" * 3000),
        "100,000-character order id": with_data(order_id="o" * 100_000),
        "3,000-character SKU": with_data(
            lines=[{"sku": "S" * 3000, "quantity": 1, "unit_price": "1.00"}]
        ),
        "1 MiB address": with_data(
            buyer={"name": "Li", "phone": "13812345678", "address": "x" * 1_000_000}
        ),
        "quantity 10^400": with_data(
            lines=[{"sku": "TEA-LONGJING-250G", "quantity": 10**400, "unit_price": "1"}]
        ),
        "currency zzz": with_data(currency="zzz"),
    }
    for n, (case, raw) in enumerate(cases.items()):
        assert len(raw) <= 1024 * 1024 or "100,000" in case, case
        refused(signed_mall(stack, raw, f"e2e-hostile-{n}"))
    # a 3,000-character webhook-id
    refused(signed_mall(stack, with_data(), "m" * 3000))
    # a WooCommerce subtotal of 10^40
    woo = next(s for s in SEED["stores"] if s["platform"] == "woocommerce")
    order = json.loads(str(fixture_json("woocommerce/signature_vector_derived.json")["raw_body"]))
    order["id"] = 7299
    order["line_items"][0]["subtotal"] = order["line_items"][0]["total"] = "1" + "0" * 40
    raw = json.dumps(order).encode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Source": "https://example.com/",
        "X-WC-Webhook-Delivery-ID": "e2e-hostile-woo",
        "X-WC-Webhook-Signature": sign_body_hmac(woo["credentials"]["webhook_secret"], raw),
    }
    url = f"{stack.api}/webhooks/woocommerce/{woo['store_id']}"
    refused(requests.post(url, data=raw, headers=headers, timeout=30))
    assert send_message_count(stack.aws) == before  # nothing of it queued


def test_hostile_api_input_is_refused_naming_the_field(stack):
    long = "x" * 3000
    adjustment = {"adjustment_id": "e2e-h-1", "kind": "receipt", "quantity": 1, "reason": "test"}
    for body, field in (
        ({**adjustment, "warehouse": long}, "warehouse"),
        ({**adjustment, "warehouse": "steal"}, "warehouse 'steal' is not a known warehouse"),
        ({**adjustment, "warehouse": "a\u0000b"}, "warehouse"),
        ({**adjustment, "warehouse": "wh-shanghai", "adjustment_id": long}, "adjustment_id"),
    ):
        response = requests.post(
            f"{stack.api}/inventory/TEA-LONGJING-250G/adjustments",
            json=body,
            headers=stack.auth,
            timeout=10,
        )
        assert field in refused(response)
    response = requests.post(
        f"{stack.api}/inventory/{long}/adjustments",
        json={**adjustment, "warehouse": "wh-shanghai"},
        headers=stack.auth,
        timeout=10,
    )
    assert "sku" in refused(response)
    response = stack.get("/admin/audit?from=0001-01-01T00:00:00%2B01:00")
    assert "from" in refused(response)
    assert "order_id" in refused(stack.get(f"/orders/mall/demo-shop/{long}"))


def test_two_people_to_see_a_buyer_void_address_and_export(stack):
    assert stack.post_order(mall_payload("E2E-RV-1", lines=TEA), "e2e-rv-1").status_code == 202
    stack.wait_for_order("E2E-RV-1")
    path = f"{stack.api}/orders/mall/demo-shop/E2E-RV-1"
    cs, ops = bearer(CS_KEY), bearer(OPS_KEY)
    asked = requests.post(
        f"{path}/personal-data/requests",
        json={"reason": "buyer called about the delivery, 13812345678"},
        headers=cs,
        timeout=10,
    )
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["request_id"]
    assert "13812345678" not in asked.text  # the reason is scrubbed
    body = {"request_id": request_id}
    refused(requests.post(f"{path}/personal-data", json=body, headers=cs, timeout=10), 403)
    self_approval = requests.post(
        f"{stack.api}/personal-data/requests/{request_id}/approve", headers=cs, timeout=10
    )
    refused(self_approval, 403)
    approved = requests.post(
        f"{stack.api}/personal-data/requests/{request_id}/approve", headers=ops, timeout=10
    )
    assert approved.status_code == 200, approved.text
    shown = requests.post(f"{path}/personal-data", json=body, headers=cs, timeout=10)
    assert shown.status_code == 200 and shown.json()["buyer"]["phone"] == "13812345678"
    audit = stack.get("/admin/audit?action=personal_data.approve&limit=5").json()
    assert any(e["target"] == "order/mall#demo-shop#E2E-RV-1" for e in audit["entries"])

    # amounts: cs sees none, finance sees them; export is finance's
    assert "total" not in requests.get(path, headers=cs, timeout=10).json()
    assert "total" in requests.get(path, headers=bearer(FINANCE_KEY), timeout=10).json()
    day = datetime.now(UTC).astimezone().date().isoformat()
    exported = requests.get(
        f"{stack.api}/orders/export?from={day}&to={day}&store=mall/demo-shop",
        headers=bearer(FINANCE_KEY),
        timeout=30,
    )
    assert exported.status_code == 200 and exported.text.startswith("platform,store,day")
    refused(requests.get(f"{stack.api}/orders/export?from={day}", headers=cs, timeout=10), 403)

    # void by ops releases the stock
    voided = requests.post(
        f"{path}/void", json={"reason": "buyer asked to cancel by phone"}, headers=ops, timeout=10
    )
    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "cancelled" and voided.json()["holds"] == []
