"""Issue 12, items 1-2: malformed but correctly signed deliveries, and hostile API input, are
refused at the door with a 4xx `{"error", "message"}` naming the field; nothing is queued.

Each case is one the attack run found answered 5xx or 202-then-DLQ on the landed main. They
run through the real app (middleware, handlers, channels) over fakes."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.channels.body_hmac import sign_body_hmac
from chalicelib.domain import bounds
from chalicelib.domain.errors import InvalidPayload
from tests.builders import body, event, mall_payload
from tests.conftest import fixture_json
from tests.unit.test_channel_deliveries import STORE_ID, add_platform_stores, sign
from tests.unit.test_http_api import KEY, post_webhook, signed_headers

AUTH = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


def refused(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.body
    found = json.loads(response.body)
    assert set(found) == {"error", "message"} and found["message"], found
    return str(found["message"])


def _mall(deps: Any, payload: dict[str, Any] | bytes, msg_id: str = "msg_1") -> tuple:
    raw = payload if isinstance(payload, bytes) else body(payload)
    return raw, signed_headers(raw, deps, msg_id)


def _with(**data: Any) -> dict[str, Any]:
    payload = mall_payload()
    payload["data"].update(data)
    return payload


MALL_CASES: dict[str, tuple[Any, str]] = {
    "year 1 at +01:00 (OverflowError)": (
        _with(updated_at="0001-01-01T00:00:00+01:00"),
        "updated_at",
    ),
    "9999-12-31 (could never book)": (_with(updated_at="9999-12-31T23:59:59Z"), "2000-2100"),
    "9999-12-31 at -01:00 (OverflowError)": (
        _with(updated_at="9999-12-31T23:59:59-01:00"),
        "updated_at",
    ),
    "year 1999": (_with(updated_at="1999-12-31T23:59:59Z"), "2000-2100"),
    "3,000-character order id": (_with(order_id="o" * 3000), "order id"),
    "100,000-character order id": (_with(order_id="o" * 100_000), "order id"),
    "control character in the order id": (_with(order_id="o-\x001"), "order id"),
    "3,000-character SKU": (
        _with(lines=[{"sku": "S" * 3000, "quantity": 1, "unit_price": "1.00"}]),
        "sku",
    ),
    "quantity of 10^400": (
        _with(lines=[{"sku": "SKU-A", "quantity": 10**400, "unit_price": "1.00"}]),
        "quantity",
    ),
    "quantity of 0": (
        _with(lines=[{"sku": "SKU-A", "quantity": 0, "unit_price": "1.00"}]),
        "quantity",
    ),
    "unit price of 10^40": (
        _with(lines=[{"sku": "SKU-A", "quantity": 1, "unit_price": "1" + "0" * 40}]),
        "unit_price",
    ),
    "currency zzz": (_with(currency="zzz"), "currency"),
    "currency XYZ (the shape, but no such code)": (_with(currency="XYZ"), "currency"),
    "1 MiB address (the order item would pass 400 KB)": (
        _with(buyer={"name": "Li Lei", "phone": "13812345678", "address": "x" * 1_000_000}),
        "address",
    ),
}


@pytest.mark.parametrize("case", list(MALL_CASES))
def test_a_signed_own_shop_delivery_out_of_bounds_is_refused_naming_the_field(client, deps, case):
    payload, field = MALL_CASES[case]
    raw, headers = _mall(deps, payload)
    assert len(raw) <= 1024 * 1024 + 200 or "100,000" in case
    message = refused(post_webhook(client, raw, headers))
    assert field in message
    assert deps.queue.messages == []


def test_a_lone_surrogate_in_a_sku_or_the_buyer_is_refused(client, deps):
    for where, payload in (
        ("sku", _with(lines=[{"sku": "SKU-\ud800", "quantity": 1, "unit_price": "1.00"}])),
        ("buyer name", _with(buyer={"name": "\udfff", "phone": "1", "address": "a"})),
    ):
        raw = json.dumps(payload).encode()  # ensure_ascii: "\ud800" travels as an escape
        assert b"\\ud800" in raw or b"\\udfff" in raw
        message = refused(post_webhook(client, raw, signed_headers(raw, deps)))
        assert where in message and "surrogate" in message
    assert deps.queue.messages == []


def test_json_nested_5000_deep_is_refused_before_parsing(client, deps):
    raw = b'{"type": "order.created", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    message = refused(post_webhook(client, raw, signed_headers(raw, deps)))
    assert "body nests 5001 levels deep" in message
    assert deps.queue.messages == []


def test_a_3000_character_webhook_id_is_refused(client, deps):
    raw = body(mall_payload())
    message = refused(post_webhook(client, raw, signed_headers(raw, deps, "m" * 3000)))
    assert "delivery's id header is 3000 characters long" in message
    assert deps.queue.messages == []


def test_a_woocommerce_subtotal_of_10_to_the_40_is_refused(client, deps):
    add_platform_stores(deps)
    order = json.loads(fixture_json("woocommerce/signature_vector_derived.json")["raw_body"])
    order["line_items"][0]["subtotal"] = "1" + "0" * 40
    order["line_items"][0]["total"] = "1" + "0" * 40
    raw = json.dumps(order).encode()
    headers = sign("woocommerce", raw)
    message = refused(post_webhook(client, raw, headers, f"/webhooks/woocommerce/{STORE_ID}"))
    assert "line_items[0]" in message
    assert deps.queue.messages == []


def test_a_shopify_order_id_of_5000_characters_is_refused(client, deps):
    add_platform_stores(deps)
    order = json.loads(
        (
            fixture_json.__globals__["FIXTURES"] / "shopify/orders_create_sample_statamic.json"
        ).read_text(encoding="utf-8")
    )
    order["id"] = "9" * 5000
    raw = json.dumps(order).encode()
    secret = {"webhook_secret": "shpss_unit_test_secret"}
    headers = {**sign("shopify", raw, secret)}
    assert headers["X-Shopify-Hmac-Sha256"] == sign_body_hmac(secret["webhook_secret"], raw)
    message = refused(post_webhook(client, raw, headers, f"/webhooks/shopify/{STORE_ID}"))
    assert "order id" in message or "5000" in message
    assert deps.queue.messages == []


def test_a_well_formed_delivery_still_books(client, deps):
    """The control: the bounds refuse the hostile cases, not the ordinary one."""
    raw, headers = _mall(deps, mall_payload())
    assert post_webhook(client, raw, headers).status_code == 202
    assert len(deps.queue.messages) == 1


# ---- API routes ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/inventory/SKU-A/adjustments", {"warehouse": "w" * 3000}, "warehouse"),
        ("/inventory/SKU-A/adjustments", {"warehouse": "a\u0000b"}, "warehouse"),
        ("/inventory/SKU-A/adjustments", {"adjustment_id": "a" * 3000}, "adjustment_id"),
        ("/inventory/SKU-A/adjustments", {"quantity": 10**400}, "quantity"),
        ("/inventory/SKU-A/adjustments", {"quantity": 1_000_001}, "quantity"),
        ("/inventory/" + "S" * 3000 + "/adjustments", {}, "sku"),
    ],
)
def test_hostile_stock_adjustments_are_refused_naming_the_field(client, deps, path, payload, field):
    adjustment = {"adjustment_id": "adj-1", "warehouse": "w1", "kind": "receipt", "quantity": 1}
    adjustment.update(payload)
    response = client.http.post(path, headers=AUTH, body=json.dumps(adjustment))
    assert field in refused(response)


def test_an_audit_query_from_year_1_is_refused(client, deps):
    response = client.http.get("/admin/audit?from=0001-01-01T00:00:00%2B01:00", headers=AUTH)
    assert "from" in refused(response)


def test_a_3000_character_order_path_is_refused_before_any_read(client, deps):
    response = client.http.get("/orders/mall/demo-shop/" + "o" * 3000, headers=AUTH)
    assert "path parameter 'order_id'" in refused(response)


def test_a_deeply_nested_api_body_is_refused(client, deps):
    raw = "[" * 5000 + "]" * 5000
    response = client.http.post("/admin/api-keys", headers=AUTH, body=raw)
    assert "nests" in refused(response)


# ---- the bounds themselves (pure) --------------------------------------------------------


def test_the_event_bounds_accept_an_ordinary_event():
    bounds.check_event(event())


@pytest.mark.parametrize(
    ("value", "ok"),
    [(Decimal("0"), True), (Decimal("999999999999999.99"), True), (Decimal("1E15"), False)],
)
def test_amounts_stay_inside_dynamodb_numbers(value, ok):
    if ok:
        assert bounds.check_amount(value, "x") == value
    else:
        with pytest.raises(InvalidPayload, match="x is too large"):
            bounds.check_amount(value, "x")


def test_json_depth_skips_brackets_inside_strings():
    assert bounds.json_depth(b'{"a": "[[[[{{{{", "b": [1, [2]]}') == 3
    assert bounds.json_depth(b'["\\"[[[["]') == 1


def test_every_iso_4217_code_passes_and_lower_case_does_not():
    assert {"CNY", "USD", "EUR", "JPY", "HKD"} <= bounds.CURRENCIES
    with pytest.raises(InvalidPayload):
        bounds.check_currency("cny", "currency")


@pytest.mark.parametrize("warehouse", ["steal", "wh-\U0001f600", "W1"])
def test_a_receipt_into_a_warehouse_that_does_not_exist_is_refused(client, deps, warehouse):
    adjustment = {
        "adjustment_id": "adj-steal",
        "warehouse": warehouse,
        "kind": "receipt",
        "quantity": 5,
        "reason": "found",
    }
    response = client.http.post(
        "/inventory/SKU-A/adjustments", headers=AUTH, body=json.dumps(adjustment)
    )
    assert f"warehouse '{warehouse}' is not a known warehouse" in refused(response)
    assert ("SKU-A", warehouse) not in deps.orders.stock
    ok = {**adjustment, "warehouse": "w1", "adjustment_id": "adj-ok"}
    response = client.http.post("/inventory/SKU-A/adjustments", headers=AUTH, body=json.dumps(ok))
    assert response.status_code == 200, response.body


def test_a_pulled_order_out_of_bounds_is_rejected_and_the_rest_of_its_page_queued():
    from dataclasses import replace

    from chalicelib.domain.polling import Batch, _deliver

    class Sink:
        def __init__(self):
            self.queued, self.rejected = [], []

        def queue(self, events, raw):
            self.queued.extend(events)

        def reject(self, rejected):
            self.rejected.append(rejected)

    good = event(order_id="ok")
    bad = replace(event(order_id="o" * 3000), event_key="jd#s1#" + "o" * 3000)
    sink = Sink()
    assert _deliver(Batch((good, bad), "{}"), sink) == (1, 1)
    assert [e.order_id for e in sink.queued] == ["ok"]
    (rejected,) = sink.rejected
    assert rejected.key.startswith("invalid#mall#s1#bounds:") and len(rejected.key) < 80
    assert "order id" in rejected.reason and rejected.order_key == ""


@pytest.mark.parametrize(
    "path",
    [
        "/ops/conservation?date=0001-01-01",
        "/ops/conservation?date=9999-12-31",
        "/ops/kpis?date=0001-01-01",
        "/ops/channel-health?date=9999-12-31",
        "/admin/audit?to=9999-12-31T23:59:59-01:00",
        "/orders/export?from=9999-12-01&to=9999-12-31",
    ],
)
def test_days_outside_2000_2100_are_refused_on_every_date_query(client, deps, path):
    refused(client.http.get(path, headers=AUTH))
