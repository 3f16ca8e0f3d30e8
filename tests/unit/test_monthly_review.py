"""The monthly review over a fake anomaly history: which episodes count (opened in the Beijing
month), the ranking, median time to resolve, SLA breaches, the top 10 cut, the schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chalicelib.domain.anomalies import AnomalyRecord
from chalicelib.domain.monthly_review import (
    REVIEW_COLUMNS,
    month_window,
    previous_month,
    review,
    run_monthly_review,
)
from local.scheduler import Schedule
from tests.fakes import FakeNotifier, FixedClock
from tests.report_fakes import FakeReportStore

MONTH = date(2026, 11, 1)
START, END = month_window(MONTH)  # 2026-10-31T16:00Z .. 2026-11-30T16:00Z
NOW = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 01:00 Beijing on 1 December


def episode(
    rule: str,
    n: int,
    opened: datetime,
    resolved_after: timedelta | None = None,
    acknowledged_after: timedelta | None = None,
    priority: str = "P0",
    level: int = 0,
) -> AnomalyRecord:
    resolved = opened + resolved_after if resolved_after is not None else None
    return AnomalyRecord(
        key=f"{rule}#s{n}@{opened.isoformat()}" if resolved else f"{rule}#s{n}",
        rule=rule,
        subject=f"s{n}",
        priority=priority,
        status="resolved" if resolved else "open",
        opened_at=opened,
        acknowledged_at=opened + acknowledged_after if acknowledged_after else None,
        resolved_at=resolved,
        escalation_level=level,
        episode_of=f"{rule}#s{n}" if resolved else "",
    )


class FakeHistory:
    def __init__(self, records: list[AnomalyRecord]) -> None:
        self.records = records
        self.asked: list[tuple[datetime, datetime]] = []

    def resolved(self, since, until, limit=200):
        self.asked.append((since, until))
        return [r for r in self.records if r.resolved_at and since <= r.resolved_at <= until]

    def active(self, status=None, limit=1000):
        return [r for r in self.records if r.resolved_at is None]


def test_the_month_is_beijings_and_the_1st_run_reviews_the_one_before():
    assert datetime(2026, 10, 31, 16, 0, tzinfo=UTC) == START
    assert datetime(2026, 11, 30, 16, 0, tzinfo=UTC) == END
    assert previous_month(NOW) == MONTH
    assert previous_month(datetime(2026, 11, 30, 15, 59, tzinfo=UTC)) == date(2026, 10, 1)
    # cron(0 17 L * ? *): 17:00 UTC on the month's last day = 01:00 Beijing on the 1st
    fires = Schedule("cron(0 17 L * ? *)").next_after(datetime(2026, 11, 2, tzinfo=UTC))
    assert fires == NOW


def test_counts_medians_and_breaches_per_rule_most_frequent_first():
    hour = timedelta(hours=1)
    records = [
        # out_of_stock (SLA: acknowledge 30 min, resolve 4 h)
        episode(
            "out_of_stock", 1, START + hour, resolved_after=1 * hour, acknowledged_after=hour / 6
        ),
        episode(
            "out_of_stock", 2, START + 2 * hour, resolved_after=3 * hour, acknowledged_after=hour
        ),
        episode(
            "out_of_stock",
            3,
            START + 3 * hour,
            resolved_after=6 * hour,
            acknowledged_after=hour / 6,
        ),
        episode("out_of_stock", 4, END - hour),  # still open at NOW: 2 h, past 30 min to ack
        # unknown_sku (acknowledge 2 h, resolve 1 day)
        episode(
            "unknown_sku", 1, START, resolved_after=hour, acknowledged_after=hour, priority="P1"
        ),
        episode("unknown_sku", 2, START + hour, resolved_after=2 * hour, priority="P1", level=1),
        # outside the month: opened the day before, and the day after
        episode("out_of_stock", 9, START - hour, resolved_after=2 * hour),
        episode("clock_skew", 1, END, priority="P2"),
    ]
    ranked = review(records, START, END, NOW)
    assert [(s.rule, s.opened) for s in ranked] == [("out_of_stock", 4), ("unknown_sku", 2)]
    oos, sku = ranked
    assert oos.still_open == 1
    assert oos.median_hours == 3.0  # of 1, 3 and 6 hours
    # late ack (1 h > 30 min), late resolve (6 h > 4 h), open 2 h without ack
    assert oos.breaches == 3
    assert sku.breaches == 1  # escalated
    assert sku.median_hours == 1.5


def test_an_episode_read_twice_counts_once():
    record = episode("dlq_not_empty", 1, START, resolved_after=timedelta(minutes=5))
    ranked = review([record, record], START, END, NOW)
    assert ranked[0].opened == 1


def test_the_report_lists_the_top_10_and_tells_finance():
    records = [
        episode(rule, n, START + timedelta(hours=n), resolved_after=timedelta(minutes=10))
        for i, rule in enumerate(
            [
                "paid_not_picked",
                "logistics_stalled",
                "suspicious_address",
                "after_sales_unanswered",
                "event_pending",
                "out_of_stock",
                "backorder",
                "unknown_sku",
                "order_details_missing",
                "clock_skew",
                "dlq_not_empty",
                "inventory_drift",
            ]
        )
        for n in range(12 - i)  # paid_not_picked 12 times ... inventory_drift once
    ]
    history, reports, notifier = FakeHistory(records), FakeReportStore(), FakeNotifier()
    run = run_monthly_review(MONTH, history, reports, notifier, FixedClock(NOW))
    draft = reports.published[0]
    assert (draft.kind, draft.day, draft.name) == ("monthly", MONTH, "anomalies")
    rows = [dict(zip(REVIEW_COLUMNS, r, strict=True)) for r in draft.rows]
    assert len(rows) == 10 == run.rows
    assert [r["rule"] for r in rows[:2]] == ["paid_not_picked", "logistics_stalled"]
    assert rows[0]["opened"] == "12"
    assert rows[0]["median_hours_to_resolve"] == "0.17"
    assert rows[0]["owner"] == "warehouse" and rows[0]["sla_resolve_hours"] == "4"
    assert history.asked == [(START, NOW)]  # resolved since the month began, to now
    assert draft.summary is not None
    assert draft.summary.lines[-1] == "2 more types: 3 anomalies"
    (notice,) = notifier.notices
    assert notice.title == "Monthly anomaly review 2026-11: 78 anomalies"
    assert notice.audience == "finance"
    assert notice.link.endswith("reports/monthly/2026-11-01/summary.html")
