"""The anomaly engine on the local stack, over HTTP: an order naming an unknown SKU opens a P1
`unknown_sku` anomaly; it is listed, announced by `scan_anomalies` (the WeCom stub receives
it), acknowledged and resolved, each in the audit log."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
import requests

from tests.builders import mall_payload

pytestmark = pytest.mark.e2e

ORDER_ID = "E2E-ANOMALY-1"
KEY = f"unknown_sku#mall#demo-shop#{ORDER_ID}"
PATH = "/anomalies/" + quote(KEY, safe="")


def listed(stack, query: str) -> list[dict]:
    response = stack.get(f"/anomalies{query}")
    assert response.status_code == 200, response.text
    return list(response.json()["anomalies"])


def post(stack, path: str, body: dict) -> requests.Response:
    return requests.post(f"{stack.api}{path}", json=body, headers=stack.auth, timeout=10)


def test_an_unknown_sku_is_listed_announced_acknowledged_and_resolved(stack):
    lines = [{"sku": "E2E-NO-SUCH-SKU", "quantity": 1, "unit_price": "9.90"}]
    assert stack.post_order(mall_payload(ORDER_ID, lines=lines), "msg_e2e_anomaly").ok
    assert stack.wait_for_order(ORDER_ID)["booking"] == "needs_attention"

    [found] = [a for a in listed(stack, "?rule=unknown_sku&priority=P1") if a["key"] == KEY]
    assert (found["status"], found["owner"], found["path"]) == ("open", "ops", PATH)

    scanned = stack.run_job("scan_anomalies")
    # the stack's own scheduler scans every 5 minutes too, and may have announced it first
    announced_at = stack.get(PATH).json().get("announced_at")
    assert KEY in scanned["announced"] or announced_at, scanned
    notify = json.loads(stack.state_file.read_text())["notify_stub_url"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sent = requests.get(f"{notify}/_stub/notifications?robot=wecom", timeout=5).json()
        if any(KEY in json.dumps(message, ensure_ascii=False) for message in sent):
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no WeCom message for {KEY}: {sent}")

    acknowledged = post(stack, f"{PATH}/acknowledge", {"note": "mapping the SKU"})
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["status"] == "acknowledged"
    assert [a["key"] for a in listed(stack, "?status=acknowledged")].count(KEY) == 1

    resolved = post(stack, f"{PATH}/resolve", {"note": "SKU added"})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved"
    assert KEY not in [a["key"] for a in listed(stack, "")]
    episodes = listed(stack, "?status=resolved&rule=unknown_sku")
    assert [e["resolved"]["note"] for e in episodes if e["episode_of"] == KEY] == ["SKU added"]
    assert stack.get(PATH).json()["status"] == "resolved"

    audit = stack.get("/admin/audit?action=anomaly.resolve").json()
    assert any(e["target"] == f"anomaly/{KEY}" for e in audit["entries"]), audit
