"""Report files: the streamed CSV and XLSX open as what they claim to be, formulas never run,
the summary page and its SVG chart are well-formed; and `GET /reports` over a fake store."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from decimal import Decimal

from openpyxl import load_workbook

from chalicelib.adapters.report_files import TabularFiles, bar_chart_svg, safe_text, summary_html
from chalicelib.adapters.report_store import text_lines
from chalicelib.domain.reports import Chart, ReportSummary
from tests.report_fakes import FakeReportStore

SVG = "{http://www.w3.org/2000/svg}"
SUMMARY = ReportSummary(
    "Reconciliation 2026-11-24: 2 stores with differences",
    ("2 of 3 stores reconciled", "jd/demo-jd: platform 63 vs OrderHub 61"),
    ("platform", "store", "platform_count", "orderhub_count"),
    (("jd", "demo-jd", "63", "61"), ("douyin", "demo-douyin", "102", "98")),
    Chart(
        "Orders per store",
        ("platform", "OrderHub"),
        (("jd/demo-jd", (63.0, 61.0)), ("douyin/<demo>", (102.0, 98.0))),
        "orders",
    ),
)


def written() -> tuple[bytes, bytes]:
    files = TabularFiles(("order_id", "amount", "reason"), numeric=("amount",))
    files.add(["JD1", "63.50", "cancel not synced: 已取消"])
    files.add(['=HYPERLINK("http://x")', "-5.00", "+1 more"])
    csv_file, xlsx_file = files.finish(SUMMARY)
    try:
        return csv_file.read(), xlsx_file.read()
    finally:
        csv_file.close()
        xlsx_file.close()


def test_csv_has_a_bom_the_header_and_every_row_with_formulas_defused():
    raw, _ = written()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows == [
        ["order_id", "amount", "reason"],
        ["JD1", "63.50", "cancel not synced: 已取消"],
        ['\'=HYPERLINK("http://x")', "-5.00", "'+1 more"],  # a negative number stays a number
    ]


def test_safe_text_leaves_numbers_and_plain_text_alone():
    assert safe_text("-12.5") == "-12.5"
    assert safe_text("@SUM(A1)") == "'@SUM(A1)"
    assert safe_text("JD-1") == "JD-1"


def test_xlsx_opens_with_openpyxl_summary_first_numbers_as_numbers_no_formulas():
    _, raw = written()
    book = load_workbook(io.BytesIO(raw))
    assert book.sheetnames == ["Summary", "Data"]
    summary = [[c for c in r if c is not None] for r in book["Summary"].values]
    assert summary[0] == ["Reconciliation 2026-11-24: 2 stores with differences"]
    assert ["jd", "demo-jd", "63", "61"] in summary
    data = book["Data"]
    rows = [list(r) for r in data.values]
    assert rows[0] == ["order_id", "amount", "reason"]
    assert rows[1][1] == Decimal("63.50") or rows[1][1] == 63.5
    assert data["A3"].data_type == "s" and data["A3"].value.startswith("=HYPERLINK")


def test_the_chart_is_svg_with_a_bar_per_store_and_series_scaled_to_the_largest():
    svg = ET.fromstring(bar_chart_svg(SUMMARY.chart))  # type: ignore[arg-type]
    assert svg.tag == f"{SVG}svg"
    bars = [r for r in svg.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(bars) == 4
    widths = [float(r.get("width", 0)) for r in bars]
    assert max(widths) == widths[2]  # douyin's platform count, 102, is the longest
    assert abs(widths[0] / widths[2] - 63 / 102) < 0.01
    assert "douyin/&lt;demo&gt;" in bar_chart_svg(SUMMARY.chart)  # type: ignore[arg-type]


def test_the_summary_page_escapes_and_links_the_files():
    page = summary_html(SUMMARY, [("differences.csv", "https://s3/x?a=1&b=2")]).decode()
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page and "douyin/&lt;demo&gt;" in page
    assert 'href="https://s3/x?a=1&amp;b=2"' in page
    assert "GET /reports?date=" in page


def test_text_lines_survive_characters_split_between_chunks():
    data = '\ufefforder_id,reason\nJ1,"取消\n未同步"\r\nJ2,x'.encode()
    chunks = [data[i : i + 3] for i in range(0, len(data), 3)]
    lines = list(text_lines(chunks))
    assert "".join(lines) == 'order_id,reason\nJ1,"取消\n未同步"\r\nJ2,x'
    assert list(csv.reader(lines))[1] == ["J1", "取消\n未同步"]


# ---- GET /reports -----------------------------------------------------------------------------


def test_get_reports_lists_fresh_links_of_the_day(client, deps):
    from datetime import date

    store = FakeReportStore()
    store.draft("reconciliation", date(2026, 11, 24), "differences", ("a",)).publish(SUMMARY)
    store.draft("inventory", date(2026, 11, 24), "differences", ("a",)).publish(SUMMARY)
    deps.reports = store
    headers = {"Authorization": "Bearer test-admin-key"}
    every = client.http.get("/reports?date=2026-11-24", headers=headers)
    assert every.status_code == 200, every.body
    assert {f["kind"] for f in every.json_body["reports"]} == {"reconciliation", "inventory"}
    one = client.http.get("/reports?date=2026-11-24&kind=inventory", headers=headers)
    names = [f["name"] for f in one.json_body["reports"]]
    assert names == ["differences.csv", "differences.xlsx", "summary.csv", "summary.html"]
    assert one.json_body["reports"][0]["url"].startswith("https://signed/reports/inventory/")
    none = client.http.get("/reports?date=2026-11-23", headers=headers)
    assert none.status_code == 200 and none.json_body["reports"] == []


def test_get_reports_refuses_a_bad_date_or_kind_naming_the_format(client, deps):
    deps.reports = FakeReportStore()
    headers = {"Authorization": "Bearer test-admin-key"}
    for query in ("", "?date=24/11/2026", "?date=2026-11-31"):
        response = client.http.get(f"/reports{query}", headers=headers)
        assert response.status_code == 400
        assert response.json_body["error"] == "invalid_payload"
        assert "YYYY-MM-DD" in response.json_body["message"]
    bad_kind = client.http.get("/reports?date=2026-11-24&kind=weekly", headers=headers)
    assert bad_kind.status_code == 400
    assert "reconciliation, inventory, monthly" in bad_kind.json_body["message"]


def test_get_reports_needs_read_reports(client, deps):
    from chalicelib.domain.api_keys import issue_key

    deps.reports = FakeReportStore()
    deps.api_keys.save_key(issue_key("w", "warehouse", deps.now(), secret="wh-key").key)
    deps.api_keys.save_key(issue_key("f", "finance", deps.now(), secret="fin-key").key)
    refused = client.http.get(
        "/reports?date=2026-11-24", headers={"Authorization": "Bearer wh-key"}
    )
    assert refused.status_code == 403
    assert "read_reports" in refused.json_body["message"]
    allowed = client.http.get(
        "/reports?date=2026-11-24", headers={"Authorization": "Bearer fin-key"}
    )
    assert allowed.status_code == 200
    assert client.http.get("/reports?date=2026-11-24").status_code == 401
