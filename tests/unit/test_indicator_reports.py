"""The metric table's reviews: the weekly anomaly-share email (Mondays, the Beijing week
before, counted from the stored daily KPIs) and the customer chase rate in the monthly review."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from chalice.app import ScheduledEventConfig

from app import app
from chalicelib.domain.indicator_reports import (
    chase_rate_lines,
    month_days,
    previous_week,
    weekly_anomaly_report,
)
from chalicelib.domain.kpis import daily_kpis
from chalicelib.domain.notify_routing import parse_config, targets_for
from tests.unit.test_report_jobs import invoke, reporting  # noqa: F401 (fixture)

MONDAY_0830_BEIJING = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)


def kpis(day: str, orders: int, anomalies: int, chased: int | None = None) -> dict:
    opened = {"unknown_sku": anomalies} if anomalies else {}
    return daily_kpis(date.fromisoformat(day), orders, opened, chased).to_dict()


def test_the_week_is_the_beijing_week_before_and_the_month_runs_to_yesterday():
    week = previous_week(MONDAY_0830_BEIJING)
    assert (week[0], week[-1]) == (date(2026, 11, 30), date(2026, 12, 6))
    days = month_days(date(2026, 12, 1), datetime(2026, 12, 4, 1, 0, tzinfo=UTC))
    assert days == [date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)]


def test_the_weekly_share_counts_the_weeks_orders_and_names_the_days_over_target():
    week = previous_week(MONDAY_0830_BEIJING)
    stored = {
        "2026-11-30": kpis("2026-11-30", 100, 2),
        "2026-12-01": kpis("2026-12-01", 100, 5),  # 5 % > 3 %
        "2026-12-02": kpis("2026-12-02", 0, 0),  # no orders: no rate
    }
    days = [(d, stored.get(d.isoformat())) for d in week]
    notice = weekly_anomaly_report(days, "https://api.example.com/api/console#/anomalies")
    assert notice.title == "Weekly anomaly share 2026-11-30 to 2026-12-06: 3.50 % (over target)"
    lines = notice.body.splitlines()
    assert lines[0] == (
        "anomaly share in the week 2026-11-30 to 2026-12-06 (Beijing): 3.50 % (7 of 200 "
        "orders; target < 3 %): over target"
    )
    assert "days over target: 2026-12-01" in lines
    assert "days without data: 4" in lines
    assert "2026-12-01: 5.00 % (5 of 100 orders) (over target)" in lines
    assert "2026-12-03: no data" in lines
    assert notice.facts["rule unknown_sku"] == "7"
    assert (notice.kind, notice.priority, notice.via) == ("report", "info", ("email",))
    assert notice.link.endswith("/console#/anomalies")


def test_the_weekly_report_goes_by_email_only():
    config = parse_config(
        {
            "email": {"sender": "alerts@example.com"},
            "channels": {
                "ops-wecom": {"type": "wecom", "url": "https://qyapi.weixin.qq.com/x?key=k"},
                "ops-mail": {"type": "email", "to": ["ops@example.com"]},
                "ops-sms": {"type": "sms", "to": ["+8613800000000"]},
                "finance-mail": {"type": "email", "to": ["finance@example.com"]},
            },
            "routes": [
                {
                    "audiences": ["*"],
                    "priorities": ["P0", "P1", "P2"],
                    "sns": "priority",
                    "channels": ["ops-wecom"],
                },
                {"audiences": ["*"], "priorities": ["P0"], "channels": ["ops-mail", "ops-sms"]},
                {
                    "audiences": ["finance"],
                    "priorities": ["*"],
                    "sns": "finance",
                    "channels": ["finance-mail"],
                },
            ],
        }
    )
    week = previous_week(MONDAY_0830_BEIJING)
    notice = weekly_anomaly_report([(d, None) for d in week], "")
    assert [t.name for t in targets_for(notice, config)] == ["ops-mail"]


def test_the_chase_rate_lines_of_the_monthly_review():
    days = [
        (date(2026, 11, 1), kpis("2026-11-01", 200, 0, chased=2)),
        (date(2026, 11, 2), kpis("2026-11-02", 100, 0, chased=3)),  # 3 % > 1.5 %
        (date(2026, 11, 3), kpis("2026-11-03", 100, 0)),  # no chase source: not counted
    ]
    assert chase_rate_lines(days, date(2026, 11, 1)) == [
        "customer chase rate in 2026-11 (Beijing month): 1.67 % (5 of 300 orders; target "
        "< 1.5 %): over target",
        "days over target: 2026-11-02",
        "days without data: 1",
    ]


def test_the_weekly_job_is_scheduled_on_monday_morning_beijing():
    schedules = {
        s.name: s.schedule_expression
        for s in app.event_sources
        if isinstance(s, ScheduledEventConfig)
    }
    assert schedules["weekly_indicator_report"] == "cron(30 0 ? * MON *)"


@pytest.fixture
def week_stored(reporting):  # noqa: F811
    reporting.now.moment = MONDAY_0830_BEIJING
    reporting.ops_stats.saved_kpis["2026-12-01"] = kpis("2026-12-01", 50, 1)
    return reporting


def test_the_weekly_job_sends_the_notice(client, week_stored):
    result = invoke(client, "weekly_indicator_report")
    (notice,) = week_stored.notifier.notices
    assert (
        result["title"] == notice.title == "Weekly anomaly share 2026-11-30 to 2026-12-06: 2.00 %"
    )


def test_the_monthly_review_carries_the_chase_rate(client, reporting):  # noqa: F811
    reporting.now.moment = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 01:00 on 1 December
    reporting.ops_stats.saved_kpis["2026-11-02"] = kpis("2026-11-02", 100, 0, chased=1)
    invoke(client, "monthly_review")
    summary = reporting.reports.published[0].summary
    assert "customer chase rate in 2026-11 (Beijing month): 1.00 % (1 of 100 orders; " in (
        "\n".join(summary.lines)
    )
