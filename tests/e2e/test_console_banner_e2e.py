"""The oversell alarm's banner in the console, in a real headless Chromium against the local
stack: SetAlarmState ALARM on `orderhub-oversell-rate-above-0` → the relay → GET /ops/banners
→ a red banner above every screen (English and zh-CN) linking the out-of-stock anomalies;
OK → it goes away on the next 60 s read. The screenshot goes to build/console-screenshots/."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import SEED
from tests.e2e.console_browser import launch, open_console, screenshot
from tests.e2e.test_alarm_relay_e2e import (  # the relay's own helpers, one way to do it
    OVERSELL,
    drain_alert_taps,  # noqa: F401  (autouse: leaves the alerts' tap queues empty)
    eventually,
)

pytestmark = pytest.mark.e2e

KEYS = {k["role"]: k["key"] for k in SEED["api_keys"]}
RED = "rgb(198, 40, 40)"  # console.css --bad


@pytest.fixture(scope="module")
def browser():
    yield from launch()


def banners(stack) -> list[dict]:
    response = stack.get("/ops/banners")
    assert response.status_code == 200, response.text
    return list(response.json()["banners"])


def banners_read(page):
    return page.expect_response(lambda r: r.url.endswith("/ops/banners") and r.ok)


def test_the_oversell_banner_shows_on_every_screen_until_the_alarm_recovers(stack, browser):
    cloudwatch = stack.client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=OVERSELL, StateValue="OK", StateReason="e2e: 0 %")
    eventually(lambda: [True] if not banners(stack) else [], 1)
    try:
        # warehouse: the role with the fewest screens still sees it
        page, watch = open_console(browser, stack.api, KEYS["warehouse"], fake_clock=True)
        strip = page.get_by_test_id("banners")
        with banners_read(page):
            page.get_by_test_id("nav-inventory").click()
        assert page.get_by_test_id("banner").count() == 0 and strip.is_hidden()

        cloudwatch.set_alarm_state(
            AlarmName=OVERSELL, StateValue="ALARM", StateReason="e2e: 0.5 % oversold"
        )
        eventually(lambda: banners(stack), 1)
        page.get_by_test_id("nav-orders").click()  # a screen change reads them again
        banner = page.locator(f"[data-testid=banner][data-alarm='{OVERSELL}']")
        banner.wait_for()
        assert page.get_by_test_id("banner").count() == 1
        assert banner.get_by_test_id("banner-title").inner_text() == "Oversell alarm"
        assert "oversold" in banner.get_by_test_id("banner-message").inner_text()
        assert "e2e: 0.5 % oversold" in banner.inner_text()
        assert banner.evaluate("e => getComputedStyle(e).backgroundColor") == RED
        link = banner.get_by_test_id("banner-link")
        assert link.get_attribute("href") == "#/anomalies?rule=out_of_stock"
        top = page.locator("#app > *").evaluate_all("xs => xs.map(x => x.dataset.testid)")
        assert top == ["nav", "banners", "main"], top  # above the screen
        screenshot(page, "banner")

        for screen in ("inventory", "anomalies", "orders"):
            page.get_by_test_id(f"nav-{screen}").click()
            page.locator(f"[data-testid=nav-{screen}].active").wait_for()
            assert page.get_by_test_id("banner").count() == 1, screen

        page.get_by_test_id("lang").click()
        assert banner.get_by_test_id("banner-title").inner_text() == "超卖告警"
        assert link.inner_text() == "查看异常"
        screenshot(page, "banner-zh")
        page.get_by_test_id("lang").click()

        with page.expect_response(lambda r: "/anomalies?rule=out_of_stock" in r.url) as listed:
            link.click()
        assert listed.value.status == 200
        assert page.url.endswith("#/anomalies?rule=out_of_stock")
        assert page.get_by_test_id("filter-rule").input_value() == "out_of_stock"
        assert "active" in (page.get_by_test_id("nav-anomalies").get_attribute("class") or "")
        assert page.get_by_test_id("banner").count() == 1

        cloudwatch.set_alarm_state(AlarmName=OVERSELL, StateValue="OK", StateReason="e2e: 0 %")
        eventually(lambda: [True] if not banners(stack) else [], 1)
        assert page.get_by_test_id("banner").count() == 1  # no read yet: still shown
        with banners_read(page):
            page.clock.fast_forward(61_000)  # the 60 s read, on the same screen
        page.get_by_test_id("banner").wait_for(state="detached")
        assert strip.is_hidden()
        assert page.url.endswith("#/anomalies?rule=out_of_stock")
        watch.assert_clean()
    finally:
        cloudwatch.set_alarm_state(AlarmName=OVERSELL, StateValue="OK", StateReason="e2e: done")
