"""The reconciliation on the running local stack: a day of orders with the seed's planted
discrepancies (JD 63 vs 61, two voided orders never synced; Douyin 102 vs 98, a flash sale
outside the standard interface) and one inventory difference (local/reconcile_demo.py, as a
developer plants them); `make job NAME=reconcile` writes the reports; the links from
`GET /reports` download CSVs that list exactly the planted differences, with their reasons;
finance is told on its topic. Then `make job NAME=monthly_review`.

The platform's side comes the production way: JD's from its order search API (the stack's
stub router, by creation time), Douyin's from a statement file in the emulator's S3.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from datetime import timedelta

import pytest
import requests

from chalicelib.domain.monthly_review import previous_month
from chalicelib.domain.reconcile import DIFFERENCE_COLUMNS, REPORT_ZONE, previous_day
from local.reconcile_demo import plant

pytestmark = pytest.mark.e2e


def _clear_of_beijing_midnight() -> None:
    """The job must see the same "yesterday" the test planted."""
    from datetime import datetime

    now = datetime.now(REPORT_ZONE)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if midnight - now < timedelta(minutes=3):
        time.sleep((midnight - now).total_seconds() + 2)


def _container(stack, monkeypatch):
    """A container on the stack's emulator, as `make job` builds one."""
    from chalicelib.deps import Container

    environment = json.loads(stack.state_file.read_text())["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Container(environ=dict(os.environ))


def _csv(url: str, columns: tuple[str, ...] | None = None) -> list[dict[str, str]]:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
    rows = list(reader)
    if columns:
        assert tuple(reader.fieldnames or ()) == columns
    return rows


def _finance_messages(stack, needle: str) -> list[str]:
    """The finance topic's messages (the local stack taps every SNS topic into a queue)."""
    sqs = stack.client("sqs")
    tap = sqs.get_queue_url(QueueName="orderhub-finance-reports-tap")["QueueUrl"]
    messages: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(needle in m for m in messages):
        got = sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages += [json.loads(m["Body"]).get("Message", "") for m in got.get("Messages", [])]
    return messages


def test_reconcile_lists_exactly_the_planted_differences(stack, monkeypatch):
    from datetime import UTC, datetime

    _clear_of_beijing_midnight()
    day = previous_day(datetime.now(UTC))
    pull = json.loads(stack.state_file.read_text())["pull_stub_url"]
    planted = plant(_container(stack, monkeypatch), pull, day)

    result = stack.run_job("reconcile")  # `make job NAME=reconcile`
    assert result["date"] == day.isoformat()
    orders_run, stock_run = result["reports"]
    details = {(d["platform"], d["store"]): d for d in orders_run["details"]}
    jd, douyin = details[("jd", "demo-jd")], details[("douyin", "demo-douyin")]
    assert (jd["platform_count"], jd["orderhub_count"]) == (63, 61)
    assert (douyin["platform_count"], douyin["orderhub_count"]) == (102, 98)
    assert stock_run["kind"] == "inventory" and stock_run["rows"] == 1

    listing = stack.get(f"/reports?date={day.isoformat()}")
    assert listing.status_code == 200, listing.text
    files = {(f["kind"], f["name"]): f["url"] for f in listing.json()["reports"]}
    assert set(files) >= {
        ("reconciliation", "differences.csv"),
        ("reconciliation", "differences.xlsx"),
        ("reconciliation", "summary.html"),
        ("inventory", "differences.csv"),
    }
    url = files[("reconciliation", "differences.csv")]
    s3 = stack.client("s3").meta.endpoint_url  # the emulator's S3 process (its own port)
    assert url.startswith(s3) and "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url

    rows = _csv(url, DIFFERENCE_COLUMNS)
    # the planted stores only: other files on this worker's stack book orders (an Amazon one
    # dated yesterday, say) that those platforms' stub day lists do not hold
    planted_stores = {("jd", "demo-jd"), ("douyin", "demo-douyin")}
    listed = {
        (r["platform"], r["store"], r["order_id"], r["kind"])
        for r in rows
        if (r["platform"], r["store"]) in planted_stores
    }
    assert listed == {
        *{("jd", "demo-jd", oid, "missing") for oid in planted.voided},
        *{("douyin", "demo-douyin", oid, "missing") for oid in planted.flash},
    }
    reasons = {r["order_id"]: r["reason"] for r in rows}
    assert all(reasons[oid].startswith("cancel not synced") for oid in planted.voided)
    assert all(
        reasons[oid].startswith("sale outside the standard interface") for oid in planted.flash
    )

    stock_rows = _csv(files[("inventory", "differences.csv")])
    assert [(r["warehouse"], r["sku"], r["kind"], r["difference"]) for r in stock_rows] == [
        (planted.warehouse, planted.sku, "count_differs", str(planted.wms_short))
    ]
    page = requests.get(files[("reconciliation", "summary.html")], timeout=10)
    assert page.status_code == 200 and "<svg" in page.text

    needle = f"reports/reconciliation/{day.isoformat()}/summary.html"
    messages = _finance_messages(stack, needle)
    assert any(needle in m for m in messages), (orders_run["notify_error"], messages)

    monthly = stack.run_job("monthly_review")  # `make job NAME=monthly_review`
    month = previous_month(datetime.now(UTC))
    assert (monthly["kind"], monthly["date"]) == ("monthly", month.isoformat())
    reviewed = stack.get(f"/reports?date={month.isoformat()}&kind=monthly").json()["reports"]
    assert "anomalies.csv" in {f["name"] for f in reviewed}
