"""Where the metric table's slower indicators are reviewed. Pure Python.

- **Anomaly share, weekly** (`weekly_indicator_report`, Mondays 08:30 Beijing): the Beijing
  week before, day by day from the stored daily KPIs (`KPIS`/day, chalicelib/domain/kpis.py),
  the week's share (anomalies opened ÷ orders placed) against the < 3 % target and the rules
  that opened most; one email notice to ops (`via` email: the table says "weekly email
  report"), linked to the console's anomalies page.
- **Customer chase rate, monthly**: the month's rate and its days over the < 1.5 % target,
  as lines of the monthly review (chalicelib/domain/monthly_review.py).

A day without stored KPIs (the job did not run, or before it existed) is "no data", never 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.domain.kpis import kpi_day
from chalicelib.domain.metric_table import BY_NAME, Indicator
from chalicelib.domain.notices import Notice

Day = tuple[date, Mapping[str, Any] | None]  # a Beijing day and its stored KPIs (or None)
TOP_RULES = 5

# per indicator: the stored KPI fields counted above and below the line
COUNTS = {
    "anomaly_ratio": ("anomalies_opened", "new_orders"),
    "customer_chase_rate": ("chased_orders", "new_orders"),
}


def previous_week(now: datetime) -> list[date]:
    """Monday to Sunday of the Beijing week before the one `now` falls in."""
    today = kpi_day(now)
    monday = today - timedelta(days=today.weekday() + 7)
    return [monday + timedelta(days=i) for i in range(7)]


def month_days(first: date, now: datetime) -> list[date]:
    """Every Beijing day of the month starting `first`, up to yesterday."""
    last = kpi_day(now) - timedelta(days=1)
    days, day = [], first
    while day.month == first.month and day <= last:
        days.append(day)
        day += timedelta(days=1)
    return days


@dataclass(frozen=True)
class PeriodRate:
    indicator: Indicator
    part: int
    whole: int
    days_measured: int
    days_missed: tuple[date, ...]  # days over the target
    days_without_data: int

    @property
    def rate(self) -> float | None:
        return None if self.whole <= 0 else round(100.0 * self.part / self.whole, 3)

    @property
    def missed(self) -> bool:
        rate = self.rate
        return rate is not None and rate > self.indicator.threshold


def _day_rate(row: Indicator, kpis: Mapping[str, Any]) -> float | None:
    key = f"{row.name}_pct"
    value = kpis.get(key)
    return float(value) if isinstance(value, int | float) else None


def period_rate(row: Indicator, days: Sequence[Day]) -> PeriodRate:
    """The period's rate from the days' counts (not an average of daily rates)."""
    part_key, whole_key = COUNTS[row.name]
    part = whole = measured = empty = 0
    missed: list[date] = []
    for day, kpis in days:
        if kpis is None or kpis.get(part_key) is None:
            empty += 1
            continue
        measured += 1
        part += int(kpis.get(part_key) or 0)
        whole += int(kpis.get(whole_key) or 0)
        rate = _day_rate(row, kpis)
        if rate is not None and rate > row.threshold:
            missed.append(day)
    return PeriodRate(row, part, whole, measured, tuple(missed), empty)


def _rate_text(rate: float | None) -> str:
    return "no orders" if rate is None else f"{rate:.2f} %"


def rate_lines(period: PeriodRate, label: str) -> list[str]:
    """Lines for a report: the period's rate against its target, the days that missed it."""
    row = period.indicator
    verdict = "over target" if period.missed else "within target"
    lines = [
        f"{row.label} in {label}: {_rate_text(period.rate)} ({period.part} of {period.whole} "
        f"orders; target {row.target}): {verdict}"
    ]
    if period.days_missed:
        shown = ", ".join(d.isoformat() for d in period.days_missed)
        lines.append(f"days over target: {shown}")
    if period.days_without_data:
        lines.append(f"days without data: {period.days_without_data}")
    return lines


def weekly_anomaly_report(days: Sequence[Day], link: str) -> Notice:
    """The Monday email: the week's anomaly share, day by day, and the rules behind it."""
    row = BY_NAME["anomaly_ratio"]
    week = f"{days[0][0].isoformat()} to {days[-1][0].isoformat()}"
    period = period_rate(row, days)
    lines = rate_lines(period, f"the week {week} (Beijing)")
    for day, kpis in days:
        if kpis is None:
            lines.append(f"{day.isoformat()}: no data")
            continue
        rate = _day_rate(row, kpis)
        mark = " (over target)" if rate is not None and rate > row.threshold else ""
        lines.append(
            f"{day.isoformat()}: {_rate_text(rate)} ({kpis.get('anomalies_opened', 0)} of "
            f"{kpis.get('new_orders', 0)} orders){mark}"
        )
    rules: Counter[str] = Counter()
    for _, kpis in days:
        for rule, count in ((kpis or {}).get("anomalies_by_rule") or {}).items():
            rules[str(rule)] += int(count)
    facts = {"share": _rate_text(period.rate), "target": row.target}
    for rule, count in rules.most_common(TOP_RULES):
        facts[f"rule {rule}"] = str(count)
    return Notice(
        kind="report",
        priority="info",
        audience="ops",
        title=f"Weekly anomaly share {week}: {_rate_text(period.rate)}"
        + (" (over target)" if period.missed else ""),
        body="\n".join(lines),
        link=link,
        facts=facts,
        via=("email",),
    )


def chase_rate_lines(days: Sequence[Day], month: date) -> list[str]:
    """The monthly review's lines on the customer chase rate."""
    period = period_rate(BY_NAME["customer_chase_rate"], days)
    return rate_lines(period, f"{month:%Y-%m} (Beijing month)")
