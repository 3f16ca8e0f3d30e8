"""The console's two-person reveal in a real headless Chromium against the local stack: cs
asks with a reason and gets a link; cs cannot approve it (no button; the API refuses too); ops
opens the link and approves, seeing who asked and why; cs reveals the clear phone and the raw
payloads with the same request. No JavaScript error and no request leaving the origin."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from tests.builders import mall_payload
from tests.e2e.conftest import SEED
from tests.e2e.console_browser import launch, open_console, screenshot
from tests.e2e.reveals import bearer

pytestmark = pytest.mark.e2e

KEYS = {k["role"]: k["key"] for k in SEED["api_keys"]}
RUN = uuid.uuid4().hex[:6].upper()
PHONE = "1370013" + str(int(RUN, 16) % 10000).zfill(4)
REASON = "buyer called: the courier cannot reach them"


@pytest.fixture(scope="module")
def browser():
    yield from launch()


def settled(page: Any) -> Any:
    """The orders screen a sign-in lands on has answered (so no request of it is still in
    flight to be cut off by leaving the page)."""
    page.locator("[data-testid=order-results] > *").first.wait_for()
    return page


@pytest.fixture(scope="module")
def order(stack) -> str:
    now = datetime.now(UTC).isoformat()
    payload = mall_payload(
        f"RVL-{RUN}", "paid", now, [{"sku": "TEA-LONGJING-250G", "quantity": 1, "unit_price": "88"}]
    )
    payload["data"]["buyer"]["phone"] = PHONE
    assert stack.post_order(payload, f"msg-rvl-{RUN}").status_code == 202
    stack.wait_for_order(f"RVL-{RUN}")
    return f"RVL-{RUN}"


def test_cs_asks_ops_approves_through_the_link_cs_reveals(stack, browser, order):
    panel = f"{stack.api}/console#/orders/mall/demo-shop/{order}"
    cs, cs_watch = open_console(browser, stack.api, KEYS["cs"])
    settled(cs).goto(panel)
    masked = cs.get_by_test_id("buyer-masked")
    masked.wait_for()
    assert PHONE not in masked.inner_text()
    cs.get_by_test_id("reveal-reason").fill(REASON)
    cs.get_by_test_id("reveal-ask").click()
    cs.get_by_test_id("reveal-waiting").wait_for()
    link = cs.get_by_test_id("reveal-link").get_attribute("href") or ""
    request_id = cs.evaluate(
        f"sessionStorage.getItem('orderhub.reveal:/orders/mall/demo-shop/{order}')"
    )
    assert (
        request_id.startswith("rv_")
        and request_id in cs.get_by_test_id("reveal-waiting").inner_text()
    )
    assert link == f"{stack.api}/console#/reveal/{request_id}/mall/demo-shop/{order}"
    screenshot(cs, "reveal-waiting")

    # before the approval the API refuses and the panel says so
    cs.get_by_test_id("reveal-show").click()
    assert "not approved" in cs.get_by_test_id("reveal-error").inner_text()
    assert cs.get_by_test_id("reveal-fields").count() == 0

    # cs opening its own link: no Approve button; the API refuses cs too
    cs.goto(link)
    cs.get_by_test_id("cannot-approve").wait_for()
    assert cs.get_by_test_id("approve-reveal").count() == 0
    refused = requests.post(
        f"{stack.api}/personal-data/requests/{request_id}/approve",
        headers=bearer(KEYS["cs"]),
        timeout=10,
    )
    assert refused.status_code == 403, refused.text

    ops, ops_watch = open_console(browser, stack.api, KEYS["ops"])
    settled(ops).goto(link)
    assert ops.get_by_test_id("reveal-request-id").inner_text() == request_id
    assert ops.get_by_test_id("reveal-order").inner_text() == f"mall / demo-shop / {order}"
    ops.get_by_test_id("approve-reveal").click()
    ops.get_by_test_id("approved").wait_for()
    assert ops.get_by_test_id("approved-requester").inner_text() == "local developer (cs) (cs)"
    assert ops.get_by_test_id("approved-reason").inner_text() == REASON
    screenshot(ops, "reveal-approved")
    ops_watch.assert_clean()

    cs.goto(panel)
    cs.get_by_test_id("reveal-waiting").wait_for()  # the request id is remembered in the tab
    cs.get_by_test_id("reveal-show").click()
    fields = cs.get_by_test_id("reveal-fields")
    fields.wait_for()
    assert PHONE in fields.inner_text()
    screenshot(cs, "reveal-clear")

    cs.get_by_test_id("raw-reason").fill(REASON)
    cs.get_by_test_id("raw").get_by_role("button").click()
    cs.get_by_test_id("raw").get_by_text("Shown in clear").wait_for()
    assert PHONE in (cs.get_by_test_id("timeline").text_content() or "")

    # the refused reveal before approval was a 403 the browser logs; nothing else may be
    errors = [e for e in cs_watch.errors if "status of 403" not in e]
    assert len(errors) == 0, errors
    assert len(cs_watch.errors) == 1
    cs_watch.errors.clear()
    cs_watch.assert_clean()


def test_the_approval_page_speaks_chinese_and_a_second_approval_is_refused(stack, browser, order):
    asked = requests.post(
        f"{stack.api}/orders/mall/demo-shop/{order}/personal-data/requests",
        json={"reason": REASON},
        headers=bearer(KEYS["cs"]),
        timeout=10,
    )
    assert asked.status_code == 201, asked.text
    request_id = asked.json()["request_id"]
    ops, watch = open_console(browser, stack.api, KEYS["ops"], locale="zh-CN")
    settled(ops).goto(f"{stack.api}/console#/reveal/{request_id}/mall/demo-shop/{order}")
    button = ops.get_by_test_id("approve-reveal")
    assert button.inner_text() == "批准"
    button.click()
    assert ops.get_by_test_id("approved").inner_text().startswith("已批准")
    ops.reload()  # approving again: 409 from the API, shown as it comes
    ops.get_by_test_id("approve-reveal").click()
    assert "already" in ops.get_by_test_id("reveal-error").inner_text()
    assert [e for e in watch.errors if "status of 409" not in e] == []


@pytest.mark.parametrize(
    ("role", "approves"),
    [("admin", True), ("ops", True), ("cs", False), ("warehouse", False), ("finance", False)],
)
def test_only_approving_roles_see_approve_on_a_reveal_link(stack, browser, role, approves):
    page, watch = open_console(browser, stack.api, KEYS[role])
    settled(page).goto(f"{stack.api}/console#/reveal/rv_0123456789abcdef/mall/demo-shop/X-1")
    assert page.get_by_test_id("reveal-request-id").inner_text() == "rv_0123456789abcdef"
    assert page.get_by_test_id("approve-reveal").count() == (1 if approves else 0)
    assert page.get_by_test_id("cannot-approve").count() == (0 if approves else 1)
    watch.assert_clean()
