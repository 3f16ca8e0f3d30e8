"""Reports on the emulated stack (a real moto server over HTTP, resources from infra/): the
orders' `placed_day` index, report files in S3 with presigned SigV4 links that download over
HTTP, multipart upload of a large file, statement files, JD's order search through the stub
router, and the whole `reconcile` job."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from chalicelib.api.reports import reconcile_day
from chalicelib.deps import Container, use_container
from chalicelib.domain.booking import BookingContext
from chalicelib.domain.model import Buyer, OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.ports import Store, Warehouse
from chalicelib.domain.processing import adjust_stock, process_order_event
from chalicelib.domain.reconcile import DIFFERENCE_COLUMNS, day_window
from chalicelib.domain.reports import ReportSummary
from chalicelib.domain.stock_ops import Adjustment
from chalicelib.domain.timeutil import utc_now
from local.stub_pull import PullStub, StubCredentials, beijing_text
from tests.fakes import FakeNotifier

DAY = date(2026, 11, 24)
START, END = day_window(DAY)
SKU = "TEA-LONGJING-250G"
JD_SECRET = {"app_key": "JDKEY", "app_secret": "jd-secret", "access_token": "jd-token"}


@pytest.fixture
def pull_stub() -> Iterator[PullStub]:
    stub = PullStub({"jd": [StubCredentials("JDKEY", "jd-secret", "jd-token")]}, port=0).start()
    yield stub
    stub.stop()


@pytest.fixture
def deps(emulated_stack, pull_stub) -> Iterator[Container]:
    environ = {**emulated_stack.environ, **pull_stub.function_environment()}
    container = Container(environ=environ)
    container.notifier = FakeNotifier()  # type: ignore[assignment]
    use_container(container)
    container.catalog_store.put_warehouse(Warehouse("wh-sh", "east", 1))
    adjust_stock(
        Adjustment("opening", SKU, "wh-sh", "receipt", 500, "test"), container.orders, utc_now
    )
    yield container
    use_container(None)


def book(deps: Container, store: Store, order_id: str, at: datetime, price: str = "88.00") -> None:
    """Through the processor's own domain path (read, plan, one transaction)."""
    event = OrderEvent(
        event_key=f"{store.platform}#{store.store_id}#{order_id}-paid",
        platform=store.platform,
        store=store.store_id,
        order_id=order_id,
        event_type="paid",
        status=PlatformStatus.PAID,
        updated_at=at,
        updated_at_raw=at.isoformat(),
        currency="CNY",
        lines=(OrderLine(SKU, 1, Decimal(price)),),
        buyer=Buyer("Li Lei", "13812345678", "1 Nanjing Road"),
        received_at=at + timedelta(seconds=5),
    )
    result = process_order_event(
        event,
        deps.orders,
        lambda: BookingContext(now=at + timedelta(seconds=5), warehouses=deps.warehouses()),
    )
    assert result.outcome.value == "booked", result


def test_the_placed_day_index_gives_a_stores_day_sorted_by_order_id(deps):
    jd = Store("jd", "demo-jd", "s", "Asia/Shanghai")
    book(deps, jd, "JD-3", START + timedelta(hours=1))
    book(deps, jd, "JD-1", START, "12.50")  # 00:00:00 Beijing: this day
    book(deps, jd, "JD-2", END - timedelta(seconds=1))  # 23:59:59 Beijing: this day
    book(deps, jd, "JD-0", END)  # 00:00:00 the next day
    book(deps, jd, "JD-9", START - timedelta(seconds=1))  # 23:59:59 the day before
    rows = list(deps.order_days.orders_of_day("jd", "demo-jd", DAY))
    assert [(r.order_id, r.status.value, r.amount, r.currency) for r in rows] == [
        ("JD-1", "paid", Decimal("12.50"), "CNY"),
        ("JD-2", "paid", Decimal("88.00"), "CNY"),
        ("JD-3", "paid", Decimal("88.00"), "CNY"),
    ]
    assert rows[0].booking == "locked"
    assert deps.order_days.placed_day("jd", "demo-jd", "JD-0") == date(2026, 11, 25)
    assert deps.order_days.placed_day("jd", "demo-jd", "nope") is None
    ddb = deps._client("dynamodb")
    table = ddb.describe_table(TableName=deps.settings.orders_table)["Table"]
    index = next(i for i in table["GlobalSecondaryIndexes"] if i["IndexName"] == "placed_day")
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert sorted(index["Projection"]["NonKeyAttributes"]) == [
        "amount",
        "booking",
        "currency",
        "status",
    ]


def test_a_report_lands_under_its_prefix_and_its_presigned_links_download_over_http(deps):
    draft = deps.reports.draft("reconciliation", DAY, "differences", ("order_id", "reason"))
    draft.add(["JD3900", "cancel not synced: 已取消"])
    summary = ReportSummary("Reconciliation 2026-11-24", ("one line",), ("a",), (("1",),))
    published = draft.publish(summary)
    prefix = "reports/reconciliation/2026-11-24/"
    assert [f.key for f in published.files] == [
        prefix + n for n in ("differences.csv", "differences.xlsx", "summary.csv", "summary.html")
    ]
    link = next(f.url for f in published.files if f.name == "differences.csv")
    query = parse_qs(urlsplit(link).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]  # SigV4
    assert query["X-Amz-Expires"] == [str(3 * 24 * 3600)]
    assert link.startswith(deps._client("s3").meta.endpoint_url)  # the emulator, locally
    downloaded = requests.get(link, timeout=10)
    assert downloaded.status_code == 200
    assert downloaded.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(downloaded.content.decode("utf-8-sig"))))
    assert rows == [["order_id", "reason"], ["JD3900", "cancel not synced: 已取消"]]
    page = requests.get(published.link, timeout=10)
    assert page.status_code == 200 and "<svg" not in page.text  # no chart given
    assert "differences.xlsx" in page.text
    fresh = deps.reports.links(DAY, "reconciliation")
    assert sorted(f.name for f in fresh) == sorted(f.name for f in published.files)
    assert all(requests.get(f.url, timeout=10).status_code == 200 for f in fresh)
    assert deps.reports.links(DAY, "monthly") == []


def test_a_large_file_is_uploaded_in_parts(deps, tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * (9 * 1024 * 1024))  # over the 8 MiB multipart threshold
    with open(path, "rb") as body:
        size = deps.report_objects.upload("reports/test/big.csv", body, "text/csv")
    head = deps.s3.head_object(Bucket=deps.settings.report_bucket, Key="reports/test/big.csv")
    assert size == head["ContentLength"] == 9 * 1024 * 1024
    assert head["ETag"].strip('"').endswith("-2")  # a multipart ETag: two parts


def jd_order(order_id: str, created: datetime, state: str = "WAIT_SELLER_STOCK_OUT") -> dict:
    return {
        "orderId": order_id,
        "orderState": state,
        "orderStartTime": beijing_text(created),
        "modified": beijing_text(created),
        "orderTotalPrice": "88.00",
        "itemInfoList": [{"outerSkuId": SKU, "itemTotal": "1", "jdPrice": "88.00"}],
    }


def seed_jd(stub: PullStub, order: dict[str, Any]) -> None:
    response = requests.post(f"{stub.url}/_stub/jd/orders", json={"order": order}, timeout=5)
    assert response.status_code == 200, response.text


def put_jd_store(deps: Container) -> Store:
    store = Store("jd", "demo-jd", "orderhub/stores/jd/demo-jd", "Asia/Shanghai")
    deps._client("secretsmanager").create_secret(
        Name=store.secret_name, SecretString=json.dumps(JD_SECRET)
    )
    deps.catalog_store.put_store(store)
    return store


def test_jd_lists_a_day_by_creation_time_through_its_router_page_by_page(deps, pull_stub):
    store = put_jd_store(deps)
    for i in range(105):
        seed_jd(pull_stub, jd_order(f"{8000 + i}", START + timedelta(minutes=i)))
    seed_jd(pull_stub, jd_order("7999", START - timedelta(seconds=1)))  # the day before
    seed_jd(pull_stub, jd_order("9999", END, "TRADE_CANCELED"))  # the day after
    statement = deps.statements.statement(store, DAY)
    assert statement is not None and statement.source.startswith("JD order search")
    rows = list(statement.rows)
    assert len(rows) == 105
    assert {r.order_id for r in rows} == {f"{8000 + i}" for i in range(105)}
    assert rows[0].amount == Decimal("88.00") and rows[0].currency == "CNY"
    calls = requests.get(f"{pull_stub.url}/_stub/jd/calls", timeout=5).json()
    assert [c["outcome"] for c in calls] == ["ok", "ok"]  # two pages of 100


def test_a_statement_file_wins_over_the_api(deps):
    store = put_jd_store(deps)
    deps.s3.put_object(
        Bucket=deps.settings.report_bucket,
        Key="statements/jd/demo-jd/2026-11-24.csv",
        Body=b"order_id,status,amount,currency\nJ1,paid,1.00,CNY\n",
        ContentType="text/csv",
    )
    statement = deps.statements.statement(store, DAY)
    assert statement is not None
    assert statement.source.endswith("statements/jd/demo-jd/2026-11-24.csv")
    assert [r.order_id for r in statement.rows] == ["J1"]


def test_the_reconcile_job_writes_both_reports_and_tells_finance(deps, pull_stub):
    jd = put_jd_store(deps)
    douyin = Store("douyin", "demo-douyin", "orderhub/stores/douyin/demo-douyin", "Asia/Shanghai")
    deps.catalog_store.put_store(douyin)
    for i in range(4):
        at = START + timedelta(hours=i)
        seed_jd(pull_stub, jd_order(f"{5000 + i}", at))
        book(deps, jd, f"{5000 + i}", at)
    seed_jd(pull_stub, jd_order("5900", START, "TRADE_CANCELED"))  # voided, never synced
    lines = ["order_id,status,amount,currency"]
    for i in range(3):
        book(deps, douyin, f"69{i}", START + timedelta(hours=2, minutes=i), "19.90")
        lines.append(f"69{i},paid,19.90,CNY")
    lines.append("FS1,paid,9.90,CNY")  # the flash-sale tool's order
    deps.s3.put_object(
        Bucket=deps.settings.report_bucket,
        Key="statements/douyin/demo-douyin/2026-11-24.csv",
        Body=("\n".join(lines) + "\n").encode(),
        ContentType="text/csv",
    )
    deps.s3.put_object(
        Bucket=deps.settings.report_bucket,
        Key="wms-snapshots/wh-sh/2026-11-24.csv",
        Body=f"sku,on_hand\n{SKU},499\n".encode(),
        ContentType="text/csv",
    )
    result = reconcile_day(deps, DAY)
    orders, stock = result["reports"]
    assert orders["rows"] == 2 and stock["rows"] == 1
    link = next(f for f in deps.reports.links(DAY, "reconciliation") if f.name.endswith(".csv"))
    assert link.name == "differences.csv"
    text = requests.get(link.url, timeout=10).content.decode("utf-8-sig")
    rows = [
        dict(zip(DIFFERENCE_COLUMNS, r, strict=True))
        for r in list(csv.reader(io.StringIO(text)))[1:]
    ]
    assert {(r["platform"], r["order_id"], r["kind"]) for r in rows} == {
        ("jd", "5900", "missing"),
        ("douyin", "FS1", "missing"),
    }
    notices = deps.notifier.notices  # type: ignore[attr-defined]
    assert [n.audience for n in notices] == ["finance", "finance"]
    assert requests.get(notices[0].link, timeout=10).status_code == 200
    inventory = next(f for f in deps.reports.links(DAY, "inventory") if f.name.endswith(".csv"))
    stock_rows = list(csv.reader(io.StringIO(requests.get(inventory.url, timeout=10).text)))
    # 500 received, 4 JD + 3 Douyin orders hold 7 locked: on_hand 500 against the WMS's 499
    assert stock_rows[1][1:7] == ["wh-sh", SKU, "count_differs", "500", "499", "1"]


def test_the_monthly_review_reads_the_anomaly_store_through_its_index(container):
    """The anomaly engine's own store (adapters/anomalies.py) under moto: episodes opened in
    the Beijing month, resolved or still open, found through `by_status`."""
    from chalicelib.domain.model import Anomaly, Priority
    from chalicelib.domain.monthly_review import month_window, run_monthly_review
    from tests.fakes import FixedClock

    container.notifier = FakeNotifier()
    store = container.anomalies
    month = date(2026, 11, 1)
    start, end = month_window(month)
    hour = timedelta(hours=1)
    for n, opened in enumerate([start + hour, start + 2 * hour, end - 2 * hour, start - hour]):
        store.open_anomaly(Anomaly("out_of_stock", f"jd#demo-jd#{n}", Priority.P0, "x"), opened)
    for n, took in ((0, 2 * hour), (1, 6 * hour), (3, 2 * hour)):
        record = store.get(f"out_of_stock#jd#demo-jd#{n}")
        assert record is not None and record.opened_at is not None
        store.resolve(record, "ops", "restocked", record.opened_at + took)
    now = end + hour  # 01:00 Beijing on 1 December
    run = run_monthly_review(month, store, container.reports, container.notifier, FixedClock(now))
    (row,) = run.details
    # opened in the month: 0, 1 (resolved after 2 h and 6 h) and 2 (still open); 3 was before
    assert (row["rule"], row["opened"], row["resolved"], row["still_open"]) == (
        "out_of_stock",
        "3",
        "2",
        "1",
    )
    assert row["median_hours_to_resolve"] == "4.00"
    assert row["sla_breaches"] == "3"  # 6 h > 4 h; never acknowledged within 30 min (all)
    files = {f.name for f in container.reports.links(month, "monthly")}
    assert files == {"anomalies.csv", "anomalies.xlsx", "summary.csv", "summary.html"}
