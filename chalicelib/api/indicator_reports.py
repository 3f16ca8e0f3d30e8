"""The metric table's reviews (chalicelib/domain/indicator_reports.py): the weekly anomaly
share email, and the chase-rate lines the monthly review carries (api/reports.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalice import Blueprint

from chalicelib.deps import Container, container
from chalicelib.domain.alarms import console_url
from chalicelib.domain.indicator_reports import (
    Day,
    chase_rate_lines,
    month_days,
    previous_week,
    weekly_anomaly_report,
)
from chalicelib.observability import logger

bp = Blueprint(__name__)


def stored_days(deps: Container, days: list[date]) -> list[Day]:
    return [(day, deps.ops_stats.kpis(day.isoformat())) for day in days]


def monthly_chase_lines(deps: Container, month: date) -> list[str]:
    """The customer chase rate of `month` (its first day), for the monthly review."""
    return chase_rate_lines(stored_days(deps, month_days(month, deps.now())), month)


@bp.schedule("cron(30 0 ? * MON *)")  # Mondays 08:30 Beijing: the Beijing week before
def weekly_indicator_report(event: Any) -> dict[str, Any]:
    """Last week's anomaly share against its < 3 % target, by email to ops."""
    deps = container()
    days = stored_days(deps, previous_week(deps.now()))
    notice = weekly_anomaly_report(days, console_url(deps.settings.link_base_url, "anomalies"))
    deps.notifier.notify(notice)  # no route took it: raise, EventBridge retries
    logger().info("weekly indicator report sent", extra={"title": notice.title})
    return {"title": notice.title, "body": notice.body.splitlines()}
