"""Issue 7: the one-click order view on the local stack. An order booked through a signed
webhook and shipped through the WMS shows, in one call: receipt -> attempt -> booked ->
shipment; the buyer masked; raw payloads only on request (admin holds `decrypt`)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.builders import mall_payload
from tests.e2e.reveals import approved_request

pytestmark = pytest.mark.e2e

SKU = "TEA-LONGJING-250G"
ORDER = "E2E-TL-1"
PATH = f"/orders/mall/demo-shop/{ORDER}/timeline"


def timeline_with(stack, kinds: set[str], timeout: float = 30) -> dict:
    """The timeline once it shows every kind asked for (the trail's attempt is written just
    after the booking commits)."""
    deadline = time.monotonic() + timeout
    while True:
        response = stack.get(PATH)
        if response.status_code == 200:
            found = {e["kind"] for e in response.json()["entries"]}
            if kinds <= found or time.monotonic() > deadline:
                return dict(response.json())
        elif time.monotonic() > deadline:
            raise AssertionError(f"{PATH}: {response.status_code} {response.text}")
        time.sleep(0.2)


def test_where_is_my_parcel_in_one_call(stack):
    lines = [{"sku": SKU, "quantity": 1, "unit_price": "88.00"}]
    assert stack.post_order(mall_payload(ORDER, status="paid", lines=lines), "msg_e2e_tl_1").ok
    assert stack.wait_for_order(ORDER)["booking"] == "locked"
    confirmation = {
        "confirmation_id": "wms-e2e-tl-1",
        "platform": "mall",
        "store": "demo-shop",
        "order_id": ORDER,
        "lines": [{"sku": SKU, "quantity": 1}],
    }
    shipped = requests.post(
        f"{stack.api}/wms/outbound-confirmations", json=confirmation, headers=stack.auth, timeout=10
    )
    assert shipped.status_code == 200, shipped.text

    view = timeline_with(stack, {"receipt", "attempt", "booking", "shipment"})

    kinds = [e["kind"] for e in view["entries"]]
    order = [kinds.index(k) for k in ("receipt", "attempt", "booking", "shipment")]
    assert order == sorted(order), kinds
    receipt = view["entries"][kinds.index("receipt")]
    assert receipt["details"]["authenticity"] == "signature verified"
    assert receipt["details"]["ack_ms"] is not None
    booking = view["entries"][kinds.index("booking")]
    assert booking["details"]["movements"][0]["warehouse"] == "wh-shanghai"
    assert view["entries"][kinds.index("shipment")]["details"]["confirmation_id"] == "wms-e2e-tl-1"
    assert kinds[-1] == "allocation" and "now shipped" in view["entries"][-1]["summary"]
    # masked exactly as GET /orders shows it; the phone never in clear
    assert view["order"] == stack.get(f"/orders/mall/demo-shop/{ORDER}").json()
    assert "13812345678" not in str(view)
    assert "payload" not in receipt["details"]["raw"]


def test_raw_payload_on_request_with_a_reason(stack):
    params = {"include": "raw", "reason": "buyer says the parcel never came"}
    unapproved = requests.get(f"{stack.api}{PATH}", params=params, headers=stack.auth, timeout=10)
    assert unapproved.status_code == 400 and "request=" in unapproved.json()["message"]
    # the two-person rule: asked with the admin key, approved with the seed's ops key
    order_path = PATH.removesuffix("/timeline")
    params["request"] = approved_request(stack.api, order_path, stack.auth, params["reason"])
    response = requests.get(f"{stack.api}{PATH}", params=params, headers=stack.auth, timeout=10)
    assert response.status_code == 200, response.text
    receipt = next(e for e in response.json()["entries"] if e["kind"] == "receipt")
    assert receipt["details"]["raw"]["found"] is True
    assert ORDER in receipt["details"]["raw"]["payload"]  # the platform's own bytes, opened
    no_reason = requests.get(
        f"{stack.api}{PATH}", params={"include": "raw"}, headers=stack.auth, timeout=10
    )
    assert no_reason.status_code == 400 and set(no_reason.json()) == {"error", "message"}
