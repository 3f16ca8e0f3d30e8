"""Stock reaches every channel through its own API, and every channel's day comes back, on
the running local stack: the stubs check each platform's auth and record each accepted push
with the platform call it came through (`GET /_stub/pushes`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
import requests

from local.seed_channels import MARKETPLACES, demo_day
from tests.conftest import ROOT
from tests.e2e.conftest import SEED

pytestmark = pytest.mark.e2e

NINE = {*MARKETPLACES, "jd"}
API = {
    "shopify": "inventorySetQuantities",
    "woocommerce": ("products/batch", "variations/batch"),
    "bigcommerce": "inventory/adjustments/absolute",
    "tiktok": "products/inventory/update",
    "douyin": "sku.syncStock",
    "taobao": ("taobao.item.quantity.update", "taobao.skus.quantity.update"),
    "jd": "jingdong.stock.write.updateSkuStock",
    "pinduoduo": "pdd.goods.quantity.update",
    "amazon": "patchListingsItem",
    "mall": "generic",
}
STORES = [(s["platform"], s["store_id"]) for s in SEED["stores"]]
KETTLE = "KETTLE-CLAY-1L"  # seed: 8 in wh-shanghai, no safety stock


def stub(stack, path, body=None):
    if body is None:
        return requests.get(f"{stack.stub}{path}", timeout=10).json()
    return requests.post(f"{stack.stub}{path}", json=body, timeout=10).json()


def latest(stack, sku):
    """The last quantity each store was told for `sku`, and the call it came through."""
    found = {}
    for push in stub(stack, f"/_stub/pushes?sku={sku}"):
        found[(push["platform"], push["store"])] = (push["quantity"], push["api"])
    return found


def wait_for(stack, sku, expected, timeout=15.0):
    deadline = time.monotonic() + timeout
    seen = {}
    while time.monotonic() < deadline:
        seen = latest(stack, sku)
        if {k: q for k, (q, _) in seen.items()} == expected:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"pushes of {sku}: {seen}, expected {expected}")


def available(stack, sku):
    return stack.get(f"/inventory/{sku}").json()["total"]["available"]


def test_a_receipt_then_push_stock_reaches_every_store_of_all_nine_platforms(stack):
    assert {p for p, _ in STORES} >= NINE
    stub(stack, "/_stub/reset", {})
    assert stack.receive(KETTLE, "e2e-ch-receipt", 3, "restock", "wh-shanghai").status_code == 200
    stack.run_job("push_stock")
    total = available(stack, KETTLE)
    seen = wait_for(stack, KETTLE, dict.fromkeys(STORES, total))
    for (platform, _), (_, api) in seen.items():
        assert api in (API[platform] if isinstance(API[platform], tuple) else (API[platform],))


def test_a_stock_change_leaves_for_every_channel_within_seconds_without_the_sweeper(stack):
    stub(stack, "/_stub/reset", {})
    started = time.monotonic()
    assert stack.receive(KETTLE, "e2e-ch-fast", 1, "restock", "wh-shanghai").status_code == 200
    wait_for(stack, KETTLE, dict.fromkeys(STORES, available(stack, KETTLE)), timeout=5.0)
    assert time.monotonic() - started < 5.0


def test_a_sku_the_store_does_not_list_opens_a_p2_anomaly_naming_the_store_and_the_fix(stack):
    stub(
        stack,
        "/_stub/catalog/remove",
        {"platform": "pinduoduo", "store": "demo-pdd", "sku": KETTLE},
    )
    refreshed = requests.post(
        f"{stack.api}/channels/pinduoduo/demo-pdd/listings/refresh", headers=stack.auth, timeout=60
    ).json()
    assert "pinduoduo/demo-pdd: " + KETTLE in refreshed["unmapped"], refreshed
    key = f"stock_push_rejected#{KETTLE}#pinduoduo#demo-pdd"
    anomaly = stack.get("/anomalies/" + quote(key, safe="")).json()
    assert anomaly["priority"] == "P2"
    assert "demo-pdd" in anomaly["detail"] and "merchant code" in anomaly["detail"]
    stub(stack, "/_stub/reset", {})
    assert stack.receive(KETTLE, "e2e-ch-unmapped", 1, "restock", "wh-shanghai").status_code == 200
    others = {s: available(stack, KETTLE) for s in STORES if s != ("pinduoduo", "demo-pdd")}
    wait_for(stack, KETTLE, others)


def test_a_platform_failing_leaves_the_sku_pending_and_the_sweeper_delivers_later(stack):
    cup = "CUP-CELADON-2PK"
    stub(stack, "/_stub/reset", {})
    stub(stack, "/_stub/fail", {"status": 503, "count": None})
    assert stack.receive(cup, "e2e-ch-fail", 1, "restock", "wh-shanghai").status_code == 200
    refused = stack.run_job("push_stock")
    assert cup in refused["still_pending"]
    assert any("after 3 attempts" in line or "answered" in line for line in refused["retry_later"])
    stub(stack, "/_stub/fail", {"count": 0})
    stack.run_job("push_stock")
    wait_for(stack, cup, dict.fromkeys(STORES, available(stack, cup)))


def test_a_day_without_statement_files_lists_each_platforms_count_from_its_api(stack):
    day = demo_day(datetime.now(UTC)).isoformat()  # make run seeded 3 orders per store there
    env = dict(os.environ, ORDERHUB_STATE_FILE=str(stack.state_file))
    done = subprocess.run(
        [sys.executable, "-m", "local.job", "reconcile", day],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout[done.stdout.index("{\n") :])
    details = {(d["platform"], d["store"]): d for d in result["reports"][0]["details"]}
    for platform, store in STORES:
        row = details[(platform, store)]
        if platform in MARKETPLACES:
            assert (row["status"], row["platform_count"]) == ("reconciled", 3), row
            assert row["source"] and "statement" not in row["source"]
        elif platform == "jd":
            assert row["status"] == "reconciled" and row["source"].startswith("JD order search")
        else:
            assert row["status"] == "no platform data"
