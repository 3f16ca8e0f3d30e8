"""Issue 12, item 5: void, address correction and export, each audited and held to the seed's
roles; `read_payments` enforced on order views, timelines and exports."""

from __future__ import annotations

import json
from datetime import date

import pytest

from chalicelib.domain.api_keys import issue_key
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import PlatformStatus
from chalicelib.domain.order_actions import (
    export_columns,
    export_rows,
    parse_export_range,
    to_csv,
    without_amounts,
)
from chalicelib.domain.reconcile import LedgerRow
from tests.builders import body, mall_payload
from tests.unit.test_http_api import post_webhook, signed_headers
from tests.unit.test_personal_data_sealing import process

ORDER = "/orders/mall/demo-shop/o-1"


def keys(deps) -> dict[str, str]:
    for role in ("admin", "ops", "cs", "finance", "warehouse"):
        issued = issue_key(role, role, deps.now(), secret=f"key-of-{role}", key_id=f"k-{role}")
        deps.api_keys.save_key(issued.key)
    return {role: f"key-of-{role}" for role in ("admin", "ops", "cs", "finance", "warehouse")}


def call(client, method: str, path: str, key: str, payload: object = None):
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    data = json.dumps(payload).encode() if payload is not None else b""
    if method == "GET":
        return client.http.get(path, headers=headers)
    return client.http.post(path, headers=headers, body=data)


def book(client, deps, address: str = "1 Nanjing Road, Shanghai", status: str = "paid") -> None:
    payload = mall_payload(status=status)
    payload["data"]["buyer"]["address"] = address
    raw = body(payload)
    assert post_webhook(client, raw, signed_headers(raw, deps, "d-1")).status_code == 202
    process(client, deps)
    deps.queue.messages.clear()


def audited(deps, action: str) -> list[dict]:
    return [e.to_dict() for e in deps.audit_log.all() if e.action == action]


# ---- void ----------------------------------------------------------------------------------


def test_ops_voids_an_order_with_a_reason_its_stock_released_once_and_audited(client, deps):
    key = keys(deps)
    book(client, deps)
    assert deps.orders.stock[("SKU-A", "w1")].locked == 2
    reason = {"reason": "buyer ordered twice by mistake, call 13812345678"}
    voided = call(client, "POST", f"{ORDER}/void", key["ops"], reason)
    assert voided.status_code == 200, voided.body
    assert voided.json_body["status"] == "cancelled" and voided.json_body["holds"] == []
    assert deps.orders.stock[("SKU-A", "w1")].locked == 0
    assert deps.orders.stock[("SKU-A", "w1")].available == 5
    (entry,) = audited(deps, "order.void")
    assert entry["actor"] == "ops" and "[phone]" in json.dumps(entry)
    assert "13812345678" not in json.dumps(entry)
    again = call(client, "POST", f"{ORDER}/void", key["ops"], reason)
    assert again.status_code == 409  # cancelled already: nothing released twice
    assert deps.orders.stock[("SKU-A", "w1")].available == 5


@pytest.mark.parametrize(("role", "status"), [("cs", 403), ("finance", 403), ("warehouse", 403)])
def test_only_ops_and_admin_void(client, deps, role, status):
    key = keys(deps)
    book(client, deps)
    response = call(client, "POST", f"{ORDER}/void", key[role], {"reason": "a good reason here"})
    assert response.status_code == status and "void_orders" in response.json_body["message"]


def test_a_void_needs_a_reason(client, deps):
    key = keys(deps)
    book(client, deps)
    for payload in (None, {}, {"reason": "short"}, {"reason": "\x00" * 20}):
        assert call(client, "POST", f"{ORDER}/void", key["ops"], payload).status_code == 400
    assert deps.orders.stock[("SKU-A", "w1")].locked == 2


# ---- address correction ----------------------------------------------------------------------


def test_cs_corrects_a_suspicious_address_and_the_anomaly_is_resolved(client, deps):
    key = keys(deps)
    book(client, deps, address="x")  # too short: held on the suspicious-address rule
    anomaly = deps.anomalies.get("suspicious_address#mall#demo-shop#o-1")
    assert anomaly is not None and anomaly.status == "open"
    new = {"address": "88 Huaihai Road, Shanghai", "reason": "buyer confirmed it by phone"}
    denied = call(client, "POST", f"{ORDER}/address", key["finance"], new)
    assert denied.status_code == 403 and "edit_address" in denied.json_body["message"]
    response = call(client, "POST", f"{ORDER}/address", key["cs"], new)
    assert response.status_code == 200, response.body
    assert response.json_body["buyer"]["address"] == "Shanghai"  # masked
    assert "Huaihai" not in response.body.decode()
    assert deps.anomalies.get("suspicious_address#mall#demo-shop#o-1").status == "resolved"
    (entry,) = audited(deps, "order.edit_address")
    assert "Huaihai" not in json.dumps(entry, ensure_ascii=False)
    # sealed like any buyer data: it opens to the corrected address
    from chalicelib.domain.personal_data import open_buyer

    order = deps.orders.get_order("mall#demo-shop#o-1")
    assert open_buyer(order.buyer, order.key, deps.personal_data).address == new["address"]
    # the order is no longer held: a second correction is the platform's business
    assert call(client, "POST", f"{ORDER}/address", key["cs"], new).status_code == 409


def test_an_order_not_held_or_a_still_bad_address_is_refused(client, deps):
    key = keys(deps)
    book(client, deps)
    ok = {"address": "88 Huaihai Road, Shanghai", "reason": "buyer confirmed it by phone"}
    assert call(client, "POST", f"{ORDER}/address", key["cs"], ok).status_code == 409
    deps2_bad = {"address": "y", "reason": "buyer confirmed it by phone"}
    book_held = "/orders/mall/demo-shop/o-2"
    payload = mall_payload(order_id="o-2", status="paid")
    payload["data"]["buyer"]["address"] = "x"
    raw = body(payload)
    assert post_webhook(client, raw, signed_headers(raw, deps, "d-2")).status_code == 202
    process(client, deps)
    still = call(client, "POST", f"{book_held}/address", key["cs"], deps2_bad)
    assert still.status_code == 400 and "still fails" in still.json_body["message"]
    assert audited(deps, "order.edit_address") == []


# ---- export and read_payments ----------------------------------------------------------------


def test_finance_exports_csv_with_amounts_cs_and_ops_may_not(client, deps):
    key = keys(deps)
    book(client, deps)
    day = "2026-11-25"
    response = call(client, "GET", f"/orders/export?from={day}&to={day}", key["finance"])
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/csv")
    lines = response.body.decode().splitlines()
    assert lines[0] == "platform,store,day,order_id,status,booking,currency,amount"
    assert lines[1:] == ["mall,demo-shop,2026-11-25,o-1,paid,locked,CNY,25.00"]
    assert "13812345678" not in response.body.decode() and "Li" not in response.body.decode()
    (entry,) = audited(deps, "orders.export")
    assert entry["after"]["rows"] == 1 and entry["actor"] == "finance"
    for role in ("cs", "ops", "warehouse"):
        denied = call(client, "GET", f"/orders/export?from={day}", key[role])
        assert denied.status_code == 403 and "export" in denied.json_body["message"]
    too_long = call(client, "GET", "/orders/export?from=2026-01-01&to=2026-03-01", key["admin"])
    assert too_long.status_code == 400 and "31 days" in too_long.json_body["message"]


def test_amounts_only_for_read_payments(client, deps):
    key = keys(deps)
    book(client, deps)
    for role, sees in (("finance", True), ("admin", True), ("cs", False), ("ops", False)):
        shown = call(client, "GET", ORDER, key[role])
        assert shown.status_code == 200
        assert ("total" in shown.json_body) is sees, role
        assert ("unit_price" in shown.body.decode()) is sees, role


def test_export_rows_without_amounts_and_formula_cells_neutralised():
    class Days:
        def orders_of_day(self, platform, store, day):
            if day == date(2026, 11, 25):
                yield LedgerRow("=HYPERLINK(1)", PlatformStatus.PAID, 12, "CNY", "locked")

    rows = export_rows([("mall", "s")], date(2026, 11, 24), date(2026, 11, 26), Days(), False)
    text, count = to_csv(export_columns(False), rows)
    assert count == 1 and "amount" not in text and "'=HYPERLINK(1)" in text


def test_export_ranges_and_amount_stripping_pure():
    assert parse_export_range({"from": "2026-11-01", "to": "2026-12-01"})[1] == date(2026, 12, 1)
    for bad in ({"from": "0001-01-01"}, {"from": "2026-02-01", "to": "2026-01-01"}, {}):
        with pytest.raises(InvalidPayload):
            parse_export_range(bad)
    view = {"total": "1", "lines": [{"sku": "A", "unit_price": "1", "quantity": 1}], "x": 1}
    assert without_amounts(view) == {"lines": [{"sku": "A", "quantity": 1}], "x": 1}
