"""Channel health on the local stack: every seeded store passes its check; the stub platform
told to fail Shopify makes the next run open the P1 `channel_health` anomaly, notify ops and
show the store failing on `GET /ops/channel-health`; healed, the store recovers and ops hear
it. The stub's health control is reset at the end, whatever happens, for the other tests."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.conftest import SEED

pytestmark = pytest.mark.e2e

SHOPIFY = next(s for s in SEED["stores"] if s["platform"] == "shopify")
KEY = f"shopify#{SHOPIFY['store_id']}"
API_PLATFORMS = {
    "shopify",
    "woocommerce",
    "bigcommerce",
    "tiktok",
    "douyin",
    "taobao",
    "pinduoduo",
    "jd",
}


def control(stack, **body) -> None:
    response = requests.post(f"{stack.stub}/_stub/health", json=body, timeout=10)
    assert response.status_code == 200, response.text


@pytest.fixture
def health_control(stack) -> Iterator[None]:
    control(stack, reset=True)
    yield
    control(stack, reset=True)  # other tests must find every platform healthy
    if stack.get("/ops/channel-health").json()["failing"]:  # this test stopped half way:
        stack.run_job("check_channel_health")  # close the streak now, not in a later test


def statuses(result: dict) -> dict[str, str]:
    return {f"{s['platform']}#{s['store']}": s["status"] for s in result["stores"]}


def notices(stack) -> list[str]:
    url = json.loads(stack.state_file.read_text())["notify_stub_url"]
    found = requests.get(f"{url}/_stub/notifications?robot=wecom", timeout=10).json()
    return [json.dumps(n["body"], ensure_ascii=False) for n in found]


def test_a_platform_outage_opens_the_anomaly_shows_failing_and_recovers(stack, health_control):
    first = statuses(stack.run_job("check_channel_health"))
    assert len(first) == len(SEED["stores"]), first
    for key, status in first.items():
        platform = key.split("#", 1)[0]
        if platform in API_PLATFORMS:
            assert status == "ok", (key, status)
        elif platform == "mall":
            assert status == "no_probe", (key, status)  # the own shop has no API
        else:
            assert status in ("ok", "degraded"), (key, status)  # amazon: a DLQ message degrades

    control(stack, platform="shopify", status=503)
    second = statuses(stack.run_job("check_channel_health"))
    assert second[KEY] == "failing"
    assert all(s != "failing" for k, s in second.items() if k != KEY), second
    item = stack.client("dynamodb").get_item(
        TableName="orderhub-anomalies",
        Key={"anomaly_key": {"S": f"channel_health#{KEY}"}},
        ConsistentRead=True,
    )["Item"]
    assert item["priority"]["S"] == "P1" and "503" in item["detail"]["S"]
    shown = stack.get("/ops/channel-health").json()
    assert KEY in shown["failing"]
    row = next(s for s in shown["stores"] if f"{s['platform']}#{s['store']}" == KEY)
    assert row["status"] == "failing" and row["failures_in_row"] >= 1
    assert any("channel_health" in n and KEY in n and "failing" in n for n in notices(stack))

    control(stack, platform="shopify")  # heal
    third = statuses(stack.run_job("check_channel_health"))
    assert third[KEY] == "ok"
    healed = stack.get("/ops/channel-health").json()
    assert KEY not in healed["failing"]
    assert any("recovered" in n and KEY in n for n in notices(stack))
