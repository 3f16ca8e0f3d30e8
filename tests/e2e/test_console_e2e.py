"""The console in a real headless Chromium against the local stack: sign in, find an order by
id and by phone, open its panel and timeline, acknowledge an anomaly, change a safety stock
and see it listed, the board's charts drawn, each role sees only its controls; no JavaScript
error and no request leaving the stack's origin on any screen. Screenshots of every screen
go to build/console-screenshots/."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import requests

from tests.builders import mall_payload
from tests.e2e.conftest import SEED
from tests.e2e.console_browser import launch, open_console, screenshot

pytestmark = pytest.mark.e2e

KEYS = {k["role"]: k["key"] for k in SEED["api_keys"]}
RUN = uuid.uuid4().hex[:6].upper()
PHONE = "139 0013 " + str(int(RUN, 16) % 10000).zfill(4)


@pytest.fixture(scope="module")
def browser():
    yield from launch()


@pytest.fixture(scope="module")
def orders(stack) -> dict[str, str]:
    """Three orders of this run: one booked, one for an unknown SKU (a P1 anomaly), one with
    a phone of its own."""
    now = datetime.now(UTC).isoformat()
    booked = mall_payload(
        f"CON-{RUN}-1",
        "paid",
        now,
        [{"sku": "TEA-LONGJING-250G", "quantity": 1, "unit_price": "88.00"}],
    )
    unknown = mall_payload(
        f"CON-{RUN}-2", "paid", now, [{"sku": f"NO-SKU-{RUN}", "quantity": 1, "unit_price": "9.90"}]
    )
    phoned = mall_payload(
        f"CON-{RUN}-3",
        "paid",
        now,
        [{"sku": "CUP-CELADON-2PK", "quantity": 1, "unit_price": "59.00"}],
    )
    phoned["data"]["buyer"]["phone"] = PHONE.replace(" ", "")
    for n, payload in enumerate((booked, unknown, phoned), 1):
        assert stack.post_order(payload, f"msg-con-{RUN}-{n}").status_code == 202
    for n in (1, 2, 3):
        stack.wait_for_order(f"CON-{RUN}-{n}")
    return {"booked": f"CON-{RUN}-1", "unknown": f"CON-{RUN}-2", "phoned": f"CON-{RUN}-3"}


def test_find_an_order_by_id_and_by_phone_and_read_its_timeline(stack, browser, orders):
    page, watch = open_console(browser, stack.api, KEYS["cs"])
    page.get_by_test_id("order-search").fill(f"CON-{RUN}")
    page.get_by_test_id("order-search-submit").click()
    page.get_by_test_id("order-link").filter(has_text=orders["unknown"]).wait_for()
    assert page.get_by_test_id("order-row").count() == 3
    screenshot(page, "orders")

    page.get_by_test_id("order-search").fill(PHONE)  # typed with blanks: the same index
    page.get_by_test_id("order-search-submit").click()
    page.get_by_test_id("lifecycle").wait_for()
    assert page.get_by_test_id("lifecycle").inner_text().endswith("new")
    assert page.get_by_test_id("order-link").all_inner_texts() == [orders["phoned"]]
    screenshot(page, "orders-by-phone")

    page.get_by_test_id("order-link").click()
    page.get_by_test_id("timeline").wait_for()
    assert page.url.endswith(f"#/orders/mall/demo-shop/{orders['phoned']}")
    kinds = page.locator("[data-testid=timeline-entry]").evaluate_all(
        "rows => rows.map(r => r.dataset.kind)"
    )
    assert {"receipt", "attempt", "booking"} <= set(kinds), kinds
    masked = page.get_by_test_id("buyer-masked").inner_text()
    assert "139****" in masked and PHONE.replace(" ", "") not in page.content()
    assert page.get_by_test_id("order-total").count() == 0  # cs has no read_payments
    screenshot(page, "order-panel")
    watch.assert_clean()


def test_acknowledge_an_anomaly_from_a_notice_link(stack, browser, orders):
    key = f"unknown_sku#mall#demo-shop#{orders['unknown']}"
    stack.run_job("scan_anomalies")
    notify = json.loads(stack.state_file.read_text())["notify_stub_url"]
    link = None
    deadline = time.monotonic() + 15
    while link is None and time.monotonic() < deadline:
        sent = json.dumps(requests.get(f"{notify}/_stub/notifications", timeout=5).json())
        found = re.search(
            rf"{re.escape(stack.api)}/console#/orders/mall/demo-shop/{orders['unknown']}", sent
        )
        link = found.group(0) if found else None
        time.sleep(0.2)
    assert link, "no notice linked the console's panel of the order"

    page, watch = open_console(browser, stack.api, KEYS["ops"])
    page.goto(link)  # the notice's link, in the signed-in tab
    page.get_by_test_id("order-anomalies").get_by_test_id("anomaly-row").wait_for()
    page.goto(f"{stack.api}/console#/anomalies")
    row = page.locator(f"[data-testid=anomaly-row][data-key='{key}']")
    row.get_by_test_id("anomaly-note").fill("mapping the SKU")
    row.get_by_test_id("acknowledge").click()
    page.locator(
        f"[data-testid=anomaly-row][data-key='{key}'] [data-testid=anomaly-status]"
    ).filter(has_text="acknowledged").wait_for()
    assert stack.get(f"/anomalies/{quote(key, safe='')}").json()["acknowledged"]["note"] == (
        "mapping the SKU"
    )
    screenshot(page, "anomalies")
    watch.assert_clean()


def test_change_a_safety_stock_and_see_it_in_the_inventory(stack, browser):
    def guangzhou() -> dict:
        levels = stack.get("/inventory/GIFT-BOX-NY").json()["warehouses"]
        return next(w for w in levels if w["warehouse"] == "wh-guangzhou")

    # other files on this worker's stack may have moved the SKU: set the safety stock above
    # whatever is available now, so the row must be highlighted
    safety = str(guangzhou()["available"] + 2)
    page, watch = open_console(browser, stack.api, KEYS["ops"])
    page.goto(f"{stack.api}/console#/inventory/GIFT-BOX-NY")
    row = page.locator(
        "[data-testid=stock-row][data-sku='GIFT-BOX-NY'][data-warehouse='wh-guangzhou']"
    )
    row.get_by_test_id("edit-policy").click()
    row.get_by_test_id("policy-safety").fill(safety)
    row.get_by_test_id("policy-save").click()
    row.get_by_test_id("safety").filter(has_text=safety).wait_for()
    assert "low" in (row.get_attribute("class") or "")  # available below safety: highlighted
    assert page.get_by_test_id("limited").count() == 1
    assert guangzhou()["safety_stock"] == int(safety)
    audit = stack.get("/admin/audit?action=stock.policy").json()["entries"]
    assert any(e["target"] == "inventory/GIFT-BOX-NY/wh-guangzhou" for e in audit)
    pushed = stack.run_job("push_stock")  # the new policy reaches the channels
    assert "GIFT-BOX-NY" not in pushed["still_pending"], pushed
    page.goto(f"{stack.api}/console#/inventory")  # a new render: the list read again
    channels = page.locator(
        "[data-testid=stock-row][data-sku='GIFT-BOX-NY'] [data-testid=channels]"
    )
    channels.filter(has_text="mall/demo-shop").wait_for()
    screenshot(page, "inventory")
    watch.assert_clean()


def test_the_board_draws_its_charts_and_reports_list_files(stack, browser, orders):
    page, watch = open_console(browser, stack.api, KEYS["admin"], locale="zh-CN")
    page.goto(f"{stack.api}/console#/board")
    page.get_by_test_id("chart-orders").wait_for()
    assert page.locator("[data-testid=chart-orders] circle[data-series=mall]").count() >= 1
    assert page.locator("[data-testid=chart-gmv] polyline").count() >= 1
    assert page.get_by_test_id("chart-anomaly_ratio_pct-target").count() == 1
    assert page.get_by_test_id("metrics-table").count() == 1
    assert "看板" in page.get_by_test_id("nav").inner_text()  # the browser's language
    page.get_by_test_id("health").wait_for()
    screenshot(page, "board")
    day = stack.run_job("reconcile")["date"]  # yesterday's (Beijing) reports
    page.goto(f"{stack.api}/console#/reports/{day}")
    page.get_by_test_id("report-row").first.wait_for()
    links = page.locator("[data-testid=report-row] a").evaluate_all("a => a.map(x => x.href)")
    assert links and all("reports/" in link for link in links), links
    screenshot(page, "reports")
    page.get_by_test_id("lang").click()
    assert "Board" in page.get_by_test_id("nav").inner_text()
    watch.assert_clean()


EXPECTED = {  # role: (screens, may edit policy, may adjust stock, may reveal, sees amounts)
    "admin": ({"orders", "inventory", "anomalies", "board", "reports"}, True, True, True, True),
    "ops": ({"orders", "inventory", "anomalies", "board", "reports"}, True, False, False, False),
    "cs": ({"orders", "inventory", "anomalies"}, False, False, True, False),
    "warehouse": ({"orders", "inventory", "anomalies"}, False, True, False, False),
    "finance": ({"orders", "anomalies", "board", "reports"}, False, False, False, True),
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_sees_only_its_controls(stack, browser, orders, role):
    screens, policy, adjust, reveal, amounts = EXPECTED[role]
    page, watch = open_console(browser, stack.api, KEYS[role])
    shown = {
        name
        for name in ("orders", "inventory", "anomalies", "board", "reports")
        if page.get_by_test_id(f"nav-{name}").count()
    }
    assert shown == screens
    page.goto(f"{stack.api}/console#/orders/mall/demo-shop/{orders['booked']}")
    page.get_by_test_id("order-lines").wait_for()
    assert (page.get_by_test_id("reveal").count() == 1) is reveal
    assert (page.get_by_test_id("order-total").count() == 1) is amounts
    if "inventory" in screens:
        page.goto(f"{stack.api}/console#/inventory/TEA")
        page.get_by_test_id("inventory-table").wait_for()
        assert (page.get_by_test_id("edit-policy").count() > 0) is policy
        assert (page.get_by_test_id("adjust").count() > 0) is adjust
    page.get_by_test_id("signout").click()
    page.get_by_test_id("signin").wait_for()
    assert page.evaluate("sessionStorage.getItem('orderhub.key')") is None
    watch.assert_clean()


def test_console_answers_carry_a_strict_policy(stack):
    page = requests.get(f"{stack.api}/console", timeout=10)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy
    assert (
        "frame-ancestors 'none'" in policy and page.headers["X-Content-Type-Options"] == "nosniff"
    )
    script = requests.get(f"{stack.api}/console/assets/app.js", timeout=10)
    assert script.headers["Content-Type"].startswith("text/javascript")
    for name in ("..%2Fapp.py", "index.html", "nope.js"):
        assert requests.get(f"{stack.api}/console/assets/{name}", timeout=10).status_code == 404


def test_phones_are_indexed_with_the_provisioned_key_and_never_stored(stack, orders):
    secret = stack.client("secretsmanager").get_secret_value(SecretId="orderhub/blind-index")
    assert len(json.loads(secret["SecretString"])["key"]) >= 32
    item = stack.client("dynamodb").get_item(
        TableName="orderhub-orders",
        Key={"order_key": {"S": f"mall#demo-shop#{orders['phoned']}"}},
    )["Item"]
    assert item["buyer_index"]["S"].startswith("p1:")
    assert PHONE.replace(" ", "") not in json.dumps(item)
