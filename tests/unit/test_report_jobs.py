"""The scheduled report jobs as Lambda invokes them (over fakes), and JD's statement source
over a fake transport: which day, a re-run for a given day, paging, unreadable rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.adapters.pull_clients import Answer
from chalicelib.adapters.statements import JdStatement, StatementRouter, jd_row
from chalicelib.domain.model import PlatformStatus
from chalicelib.domain.ports import Store
from chalicelib.domain.reconcile import LedgerRow, Problems, Statement
from chalicelib.settings import _REQUIRED
from tests.fakes import FakeSecrets, FixedClock
from tests.report_fakes import FakeOrderDays, FakeReportStore, FakeSnapshots, FakeStatements

JD = Store("jd", "demo-jd", "secret/jd", "Asia/Shanghai")


@pytest.fixture
def reporting(deps):
    deps.statements = FakeStatements()
    deps.order_days = FakeOrderDays()
    deps.reports = FakeReportStore()
    deps.wms_snapshots = FakeSnapshots()
    deps.anomalies = type(
        "NoAnomalies", (), {"resolved": lambda *a, **k: [], "active": lambda *a, **k: []}
    )()
    return deps


def invoke(client, name: str, detail: dict[str, Any] | None = None) -> Any:
    event = client.events.generate_cw_event("aws.events", "Scheduled Event", detail or {}, [])
    return client.lambda_.invoke(name, event).payload


def test_reconcile_at_0100_beijing_reports_the_day_before(client, reporting):
    reporting.now.moment = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # 01:00 on the 25th
    result = invoke(client, "reconcile")
    assert result["date"] == "2026-11-24"
    kinds = [(d.kind, d.day) for d in reporting.reports.published]
    assert kinds == [("reconciliation", date(2026, 11, 24)), ("inventory", date(2026, 11, 24))]
    assert [n.kind for n in reporting.notifier.notices] == ["report", "report"]


def test_reconcile_reruns_a_given_day(client, reporting):
    result = invoke(client, "reconcile", {"date": "2026-11-20"})
    assert result["date"] == "2026-11-20"


def test_monthly_review_on_the_1st_reviews_last_month(client, reporting):
    reporting.now.moment = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 01:00 on 1 December
    result = invoke(client, "monthly_review")
    assert (result["kind"], result["date"]) == ("monthly", "2026-11-01")
    assert reporting.notifier.notices[0].title == "Monthly anomaly review 2026-11: 0 anomalies"


# ---- JD's order search as a statement ---------------------------------------------------------


def jd_page(orders: list[dict[str, Any]], total: int) -> Answer:
    result = {"apiResult": {"success": True}, "orderTotal": total, "orderInfoList": orders}
    return Answer("", {"jingdong_pop_order_search_responce": {"searchorderinfo_result": result}})


class FakeTransport:
    def __init__(self, pages: list[Answer]) -> None:
        self.pages = pages
        self.calls: list[dict[str, str]] = []

    def post(self, url: str, params: dict[str, str], platform: str) -> Answer:
        self.calls.append(params)
        return self.pages[len(self.calls) - 1]


def test_jd_statement_pages_by_creation_time_over_the_beijing_day():
    import json

    first = [
        {"orderId": 100 + i, "orderState": "FINISHED_L", "orderTotalPrice": "5.00"}
        for i in range(100)
    ]
    second = [
        {"orderId": "200", "orderState": "TRADE_CANCELED", "orderTotalPrice": "7.10"},
        {"orderId": "201", "orderState": "NEW_STATE"},
    ]
    transport = FakeTransport([jd_page(first, 102), jd_page(second, 102)])
    secrets = FakeSecrets({"secret/jd": {"app_key": "k", "app_secret": "s", "access_token": "t"}})
    source = JdStatement("https://jd", transport, secrets, FixedClock())  # type: ignore[arg-type]
    statement = source.statement(JD, date(2026, 11, 24))
    rows = list(statement.rows)
    assert len(rows) == 101
    assert rows[100] == LedgerRow("200", PlatformStatus.CANCELLED, Decimal("7.10"), "CNY")
    assert statement.problems.kept == [
        "JD order search: order 201: orderState 'NEW_STATE' is not known"
    ]
    business = json.loads(transport.calls[0]["360buy_param_json"])
    assert business["dateType"] == "1"
    assert (business["start_date"], business["end_date"]) == (
        "2026-11-24 00:00:00",
        "2026-11-24 23:59:59",
    )
    assert [json.loads(c["360buy_param_json"])["page"] for c in transport.calls] == ["1", "2"]


def test_jd_amount_falls_back_to_its_lines():
    order = {
        "orderId": "1",
        "orderState": "WAIT_SELLER_STOCK_OUT",
        "itemInfoList": [
            {"jdPrice": "12.50", "itemTotal": "2"},
            {"jdPrice": "0.10", "itemTotal": "3"},
        ],
    }
    row = jd_row(order, Problems())
    assert row is not None and row.amount == Decimal("25.30")


def test_a_statement_file_wins_and_a_platform_without_api_has_none():
    class Files:
        def __init__(self, found: Statement | None) -> None:
            self.found = found

        def statement(self, store: Store, day: date) -> Statement | None:
            return self.found

    class Api:
        def statement(self, store: Store, day: date) -> Statement:
            return Statement("api", iter(()))

    day = date(2026, 11, 24)
    file_statement = Statement("file", iter(()))
    assert (
        StatementRouter(Files(file_statement), {"jd": Api()}).statement(JD, day) is file_statement
    )  # type: ignore[arg-type]
    assert StatementRouter(Files(None), {"jd": Api()}).statement(JD, day).source == "api"  # type: ignore[arg-type,union-attr]
    douyin = Store("douyin", "demo-douyin", "s")
    assert StatementRouter(Files(None), {"jd": Api()}).statement(douyin, day) is None  # type: ignore[arg-type]


# ---- settings and the link signer ------------------------------------------------------------

# every required setting (the list grows with the app), the raw bucket named
ENV = {
    **{var: "x" for var in _REQUIRED.values()},
    "ORDERHUB_RAW_BUCKET": "raw-bucket",
    "AWS_REGION": "ap-east-1",
}


def test_report_settings_default_and_bounds():
    from chalicelib.settings import ConfigError, Settings

    plain = Settings.from_env(ENV)
    assert (plain.report_bucket, plain.report_link_days) == ("raw-bucket", 3)
    own = Settings.from_env({**ENV, "ORDERHUB_REPORTS_BUCKET": "reports-bucket"})
    assert own.report_bucket == "reports-bucket"
    for days in ("0", "8", "x"):
        with pytest.raises(ConfigError, match="ORDERHUB_REPORT_LINK_DAYS"):
            Settings.from_env({**ENV, "ORDERHUB_REPORT_LINK_DAYS": days})


def test_links_are_sigv4_regional_and_signed_by_the_signer_secret(monkeypatch):
    from urllib.parse import parse_qs, urlsplit

    from chalicelib.deps import Container

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ROLEKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "role-secret")
    env = {**ENV, "ORDERHUB_REPORTS_BUCKET": "reports-bucket"}
    role = Container(environ=env).report_presigner
    url = role.generate_presigned_url(
        "get_object", Params={"Bucket": "reports-bucket", "Key": "reports/x.csv"}, ExpiresIn=60
    )
    assert url.startswith("https://reports-bucket.s3.ap-east-1.amazonaws.com/reports/x.csv?")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Credential"][0].startswith("ROLEKEY/")

    signed = Container(environ={**env, "ORDERHUB_REPORT_SIGNER_SECRET": "orderhub/signer"})
    signed.secrets = FakeSecrets(  # type: ignore[assignment]
        {"orderhub/signer": {"access_key_id": "SIGNERKEY", "secret_access_key": "s"}}
    )
    url = signed.report_presigner.generate_presigned_url(
        "get_object", Params={"Bucket": "reports-bucket", "Key": "reports/x.csv"}, ExpiresIn=60
    )
    assert parse_qs(urlsplit(url).query)["X-Amz-Credential"][0].startswith("SIGNERKEY/")


def test_a_jd_store_without_its_secret_fails_alone():
    from chalicelib.domain.reconcile import FAILED, reconcile_store
    from tests.report_fakes import FakeOrderDays

    source = JdStatement("https://jd", FakeTransport([]), FakeSecrets({}), FixedClock())  # type: ignore[arg-type]

    class Sink:
        def add(self, cells: Any) -> None:
            raise AssertionError("nothing to write")

    summary = reconcile_store(JD, date(2026, 11, 24), source, FakeOrderDays(), Sink())
    assert summary.status == FAILED and "secret/jd could not be read" in summary.note
