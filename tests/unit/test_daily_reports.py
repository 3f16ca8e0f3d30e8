"""The nightly reports over fakes: the seed's planted discrepancies (JD 63 vs 61 with two
voided orders never synced; Douyin 102 vs 98 from a flash sale outside the standard
interface) come out as exactly those rows, with reasons; the inventory report; the notice."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from chalicelib.domain.booking import BookingContext, plan_event
from chalicelib.domain.daily_reports import run_inventory_report, run_reconciliation
from chalicelib.domain.inventory_diff import INVENTORY_COLUMNS
from chalicelib.domain.model import Booking, Order, OrderLine, PlatformStatus, StockLevel
from chalicelib.domain.polling import PlatformUnavailable
from chalicelib.domain.ports import Store
from chalicelib.domain.reconcile import DIFFERENCE_COLUMNS, LedgerRow, day_window, report_day
from tests.builders import event
from tests.fakes import FakeNotifier, FixedClock
from tests.report_fakes import FakeOrderDays, FakeReportStore, FakeSnapshots, FakeStatements

DAY = date(2026, 11, 24)
START, _ = day_window(DAY)
JD = Store("jd", "demo-jd", "s/jd", "Asia/Shanghai")
DOUYIN = Store("douyin", "demo-douyin", "s/dy", "Asia/Shanghai")
MALL = Store("mall", "demo-shop", "s/mall", "Asia/Shanghai")


def order(store: Store, order_id: str, minute: int, price: str = "88.00") -> Order:
    at = START + timedelta(minutes=minute)
    return Order(
        platform=store.platform,
        store=store.store_id,
        order_id=order_id,
        status=PlatformStatus.PAID,
        booking=Booking.LOCKED,
        updated_at=at,
        updated_at_raw=at.isoformat(),
        currency="CNY",
        lines=(OrderLine("TEA-LONGJING-250G", 1, Decimal(price)),),
        buyer=None,
        created_at=at + timedelta(seconds=3),
        placed_at=at,
    )


def seed_day() -> tuple[FakeStatements, FakeOrderDays]:
    statements, days = FakeStatements(), FakeOrderDays()
    jd_rows = []
    for i in range(61):
        days.add(order(JD, f"JD{3000 + i}", i))
        jd_rows.append(LedgerRow(f"JD{3000 + i}", PlatformStatus.PAID, Decimal("88.00"), "CNY"))
    for oid in ("JD3900", "JD3901"):  # voided on JD, never synced
        jd_rows.append(LedgerRow(oid, PlatformStatus.CANCELLED, Decimal("88.00"), "CNY"))
    statements.rows[("jd", "demo-jd")] = list(reversed(jd_rows))  # any order
    dy_rows = []
    for i in range(98):
        days.add(order(DOUYIN, f"69{i:05d}", i * 10, "19.90"))
        dy_rows.append(LedgerRow(f"69{i:05d}", PlatformStatus.PAID, Decimal("19.90"), "CNY"))
    for i in range(4):  # the flash-sale tool: on Douyin's list, never delivered
        dy_rows.append(LedgerRow(f"FS{i}", PlatformStatus.PAID, Decimal("9.90"), "CNY"))
    statements.rows[("douyin", "demo-douyin")] = dy_rows
    days.add(order(MALL, "A-1", 5))  # a store without a statement
    days.add(order(JD, "JD-NEXT-DAY", 24 * 60 + 1))  # the next Beijing day: not this one
    return statements, days


def test_the_seeds_planted_discrepancies_are_exactly_the_rows_listed():
    statements, days = seed_day()
    reports, notifier = FakeReportStore(), FakeNotifier()
    run = run_reconciliation(
        DAY, [DOUYIN, JD, MALL], statements, days, reports, notifier, FixedClock()
    )
    draft = reports.published[0]
    rows = [dict(zip(DIFFERENCE_COLUMNS, r, strict=True)) for r in draft.rows]
    listed = {(r["platform"], r["order_id"], r["kind"]) for r in rows}
    assert listed == {
        ("jd", "JD3900", "missing"),
        ("jd", "JD3901", "missing"),
        *{("douyin", f"FS{i}", "missing") for i in range(4)},
    }
    assert len(rows) == 6 == run.rows
    by_id = {r["order_id"]: r["reason"] for r in rows}
    assert by_id["JD3900"].startswith("cancel not synced")
    assert by_id["FS0"].startswith("sale outside the standard interface")
    details = {(d["platform"], d["store"]): d for d in run.details}
    jd = details[("jd", "demo-jd")]
    assert (jd["platform_count"], jd["orderhub_count"]) == (63, 61)
    assert (jd["platform_amount"], jd["orderhub_amount"]) == ("CNY 5544.00", "CNY 5368.00")
    douyin = details[("douyin", "demo-douyin")]
    assert (douyin["platform_count"], douyin["orderhub_count"]) == (102, 98)
    assert details[("mall", "demo-shop")]["status"] == "no platform data"
    summary = draft.summary
    assert summary is not None
    assert summary.title == "Reconciliation 2026-11-24: 2 stores with differences"
    assert summary.chart is not None
    assert dict(summary.chart.bars) == {
        "douyin/demo-douyin": (102.0, 98.0),
        "jd/demo-jd": (63.0, 61.0),
    }
    (notice,) = notifier.notices
    assert (notice.kind, notice.audience, notice.priority) == ("report", "finance", "info")
    assert notice.link == "https://signed/reports/reconciliation/2026-11-24/summary.html"
    assert "GET /reports?date=2026-11-24&kind=reconciliation" in notice.body
    assert run.notified


def test_a_notice_no_route_takes_leaves_the_report_published():
    statements, days = seed_day()
    reports, notifier = FakeReportStore(), FakeNotifier()
    notifier.error = RuntimeError("no route took it")
    run = run_reconciliation(DAY, [JD], statements, days, reports, notifier, FixedClock())
    assert run.published is not None and not run.notified
    assert run.notify_error == "RuntimeError: no route took it"


def test_a_failing_store_is_reported_and_the_others_still_reconciled():
    statements, days = seed_day()
    statements.errors[("jd", "demo-jd")] = PlatformUnavailable("JD router unreachable")
    reports = FakeReportStore()
    run = run_reconciliation(
        DAY, [JD, DOUYIN], statements, days, reports, FakeNotifier(), FixedClock()
    )
    assert run.details[0]["status"] == "failed"
    assert run.rows == 4
    summary = reports.published[0].summary
    assert summary is not None
    assert "jd/demo-jd: failed: JD router unreachable" in summary.lines


def test_inventory_differences_per_warehouse():
    stock = [
        StockLevel("CUP", "wh-sh", 30, 0, 0, 30),
        StockLevel("KETTLE", "wh-sh", 8, 2, 0, 6),
        StockLevel("TEA", "wh-sh", 120, 0, 0, 120),
        StockLevel("GONE", "wh-sh", 0, 0, 0, 0),
        StockLevel("TEA", "wh-gz", 40, 0, 0, 40),
    ]
    snapshots = FakeSnapshots(
        {
            # KETTLE: WMS shipped 2 OrderHub still holds locked; TEA in two bins; NEW unknown
            "wh-sh": "sku,on_hand\nTEA,100\nKETTLE,6\nTEA,20\nNEW,3\nCUP,31\nbad,x\n",
        }
    )
    reports, notifier = FakeReportStore(), FakeNotifier()
    run = run_inventory_report(
        DAY, ["wh-sh", "wh-gz"], stock, snapshots, reports, notifier, FixedClock()
    )
    rows = [dict(zip(INVENTORY_COLUMNS, r, strict=True)) for r in reports.published[0].rows]
    listed = [(r["warehouse"], r["sku"], r["kind"], r["difference"]) for r in rows]
    assert listed == [
        ("wh-sh", "CUP", "count_differs", "-1"),
        ("wh-sh", "KETTLE", "count_differs", "2"),
        ("wh-sh", "NEW", "only_in_wms", "-3"),
        ("wh-sh", "", "unreadable", ""),
    ]
    assert "holds 2 locked" in rows[1]["reason"]
    assert "receipt or return not recorded" in rows[0]["reason"]
    statuses = {d["warehouse"]: d["status"] for d in run.details}
    assert statuses == {"wh-gz": "no WMS snapshot", "wh-sh": "reconciled"}
    sh = next(d for d in run.details if d["warehouse"] == "wh-sh")
    assert (sh["orderhub_units"], sh["wms_units"]) == ("158", "160")
    assert notifier.notices[0].title == "Inventory differences 2026-11-24: 1 warehouses differ"


def test_booking_dates_an_order_by_its_first_events_time_and_keeps_it():
    """23:59:30 Beijing on the 24th, booked after midnight: still the 24th's order."""
    ctx = BookingContext(now=datetime(2026, 11, 24, 16, 0, 5, tzinfo=UTC))
    created = event("o-1", "unpaid", "2026-11-24T23:59:30+08:00", lines=())
    first = plan_event(created, None, {}, ctx).order
    assert first is not None
    assert first.placed_at == datetime(2026, 11, 24, 15, 59, 30, tzinfo=UTC)
    assert report_day(first.placed_at) == DAY
    paid = event("o-1", "paid", "2026-11-25T00:10:00+08:00", lines=())
    later = plan_event(paid, first, {}, BookingContext(now=ctx.now + timedelta(minutes=11)))
    assert later.order is not None and later.order.placed_at == first.placed_at
