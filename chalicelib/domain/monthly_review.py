"""The monthly review (the 1st, Beijing 01:00): last month's top 10 anomaly types with their
counts, median time to resolve and SLA breaches, as a report for finance and ops. Pure Python.

Which anomalies: every episode *opened* in the Beijing month (an anomaly that recurred after
being resolved is a new episode). They are read through the anomaly table's `by_status`
index, never a scan: the resolved episodes by resolution time from the month's start to now
(an episode opened in the month is resolved after it started), plus the active ones (the
current backlog); both are filtered to those opened in the month.

SLA breach: not acknowledged within the rule's acknowledge time, or not resolved within its
resolve time (`domain/anomaly_rules.py`), measured to the acknowledgement / resolution, or to
now for one still open; an escalated episode breached by definition.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Protocol

from chalicelib.domain.anomalies import ACTIVE, AnomalyRecord
from chalicelib.domain.anomaly_rules import rule_for
from chalicelib.domain.daily_reports import ReportRun, announce_report
from chalicelib.domain.model import Priority
from chalicelib.domain.notices import Notifier
from chalicelib.domain.reconcile import REPORT_ZONE, report_day
from chalicelib.domain.reports import MONTHLY, Chart, ReportStore, ReportSummary

TOP = 10
READ_LIMIT = 100_000  # episodes read per month and status: far above any real month
REVIEW_COLUMNS = (
    "month",
    "rank",
    "rule",
    "priority",
    "owner",
    "opened",
    "resolved",
    "still_open",
    "median_hours_to_resolve",
    "sla_breaches",
    "sla_acknowledge_hours",
    "sla_resolve_hours",
)
NUMERIC_COLUMNS = (
    "rank",
    "opened",
    "resolved",
    "still_open",
    "median_hours_to_resolve",
    "sla_breaches",
    "sla_acknowledge_hours",
    "sla_resolve_hours",
)


class AnomalyHistory(Protocol):
    """What the review reads of the anomaly store (domain/anomalies.AnomalyStore has it)."""

    def resolved(self, since: datetime, until: datetime, limit: int = 200) -> list[AnomalyRecord]:
        """Resolved episodes whose resolution time lies in [since, until]."""
        ...

    def active(self, status: str | None = None, limit: int = 1000) -> list[AnomalyRecord]:
        """Open and acknowledged anomalies."""
        ...


def month_start(day: date) -> date:
    return day.replace(day=1)


def previous_month(now: datetime) -> date:
    """The first day of the Beijing month before the one `now` falls in."""
    first = month_start(report_day(now))
    return month_start(first - timedelta(days=1))


def month_window(first: date) -> tuple[datetime, datetime]:
    """[start, end) of the Beijing month starting on `first`, as aware datetimes."""
    following = month_start(first + timedelta(days=32))
    return (
        datetime.combine(first, time(0), REPORT_ZONE),
        datetime.combine(following, time(0), REPORT_ZONE),
    )


def breached(record: AnomalyRecord, now: datetime) -> bool:
    if record.escalation_level > 0:
        return True
    if record.opened_at is None:
        return False
    sla = rule_for(record.rule, record.priority).sla
    acknowledged = record.acknowledged_at or record.resolved_at or now
    resolved = record.resolved_at or now
    late_ack = acknowledged - record.opened_at > sla.acknowledge
    return late_ack or resolved - record.opened_at > sla.resolve


@dataclass
class RuleStats:
    rule: str
    priorities: list[str] = field(default_factory=list)
    opened: int = 0
    still_open: int = 0
    breaches: int = 0
    hours_to_resolve: list[float] = field(default_factory=list)

    @property
    def priority(self) -> str:
        """The most urgent priority seen (P0 before P1 before P2)."""
        return min(self.priorities, default="")

    @property
    def median_hours(self) -> float | None:
        return statistics.median(self.hours_to_resolve) if self.hours_to_resolve else None


def review(
    records: Iterable[AnomalyRecord], start: datetime, end: datetime, now: datetime
) -> list[RuleStats]:
    """Per rule, the episodes opened in [start, end): most frequent first (ties by name).
    A record seen twice (read while it resolved) counts once."""
    stats: dict[str, RuleStats] = {}
    seen: set[tuple[str, datetime]] = set()
    for record in records:
        opened = record.opened_at
        if opened is None or not start <= opened < end:
            continue
        identity = (record.episode_of or record.key, opened)
        if identity in seen:
            continue
        seen.add(identity)
        entry = stats.setdefault(record.rule, RuleStats(record.rule))
        entry.opened += 1
        entry.priorities.append(str(record.priority))
        if record.status in ACTIVE or record.resolved_at is None:
            entry.still_open += 1
        else:
            entry.hours_to_resolve.append((record.resolved_at - opened).total_seconds() / 3600)
        entry.breaches += breached(record, now)
    return sorted(stats.values(), key=lambda s: (-s.opened, s.rule))


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:g}"


def review_cells(month: date, rank: int, entry: RuleStats) -> list[str]:
    rule = rule_for(entry.rule, entry.priority or Priority.P1.value)
    median = entry.median_hours
    return [
        month.strftime("%Y-%m"),
        str(rank),
        entry.rule,
        entry.priority,
        rule.owner,
        str(entry.opened),
        str(entry.opened - entry.still_open),
        str(entry.still_open),
        "" if median is None else f"{median:.2f}",
        str(entry.breaches),
        _hours(rule.sla.acknowledge),
        _hours(rule.sla.resolve),
    ]


def review_summary(
    month: date, ranked: list[RuleStats], extra_lines: Sequence[str] = ()
) -> ReportSummary:
    top = ranked[:TOP]
    total = sum(s.opened for s in ranked)
    label = month.strftime("%Y-%m")
    lines = [
        f"{total} anomalies opened in {label} (Beijing month) across {len(ranked)} types; "
        f"{sum(s.breaches for s in ranked)} breached their SLA, "
        f"{sum(s.still_open for s in ranked)} still open",
        *(
            f"{i}. {s.rule} ({s.priority}): {s.opened} opened, median "
            + ("-" if s.median_hours is None else f"{s.median_hours:.1f} h")
            + f" to resolve, {s.breaches} SLA breaches"
            for i, s in enumerate(top, start=1)
        ),
    ]
    if len(ranked) > TOP:
        rest = ranked[TOP:]
        lines.append(f"{len(rest)} more types: {sum(s.opened for s in rest)} anomalies")
    lines += extra_lines  # the metric table's monthly indicators (customer chase rate)
    chart = Chart(
        f"Top {TOP} anomaly types, {label}",
        ("opened", "SLA breaches"),
        tuple((s.rule, (float(s.opened), float(s.breaches))) for s in top),
    )
    return ReportSummary(
        f"Monthly anomaly review {label}: {total} anomalies",
        tuple(lines),
        REVIEW_COLUMNS,
        tuple(tuple(review_cells(month, i, s)) for i, s in enumerate(top, start=1)),
        chart,
    )


def run_monthly_review(
    month: date,
    history: AnomalyHistory,
    reports: ReportStore,
    notifier: Notifier,
    now: Callable[[], datetime],
    extra_lines: Sequence[str] = (),
    earlier_actions: Sequence[str] = (),
) -> ReportRun:
    """Last month's review into `reports/monthly/<YYYY-MM-01>/`, then a notice to finance;
    `extra_lines` join its summary (the customer chase rate, domain/indicator_reports.py);
    `earlier_actions`: the lines recording the month before's root causes and actions
    (domain/order_notes.py `review_note_lines`), shown on the summary page after the
    numbers."""
    month = month_start(month)
    start, end = month_window(month)
    moment = now()
    records = [
        *history.resolved(start, max(moment, end), limit=READ_LIMIT),
        *history.active(limit=READ_LIMIT),
    ]
    ranked = review(records, start, end, moment)
    run = ReportRun(MONTHLY, month)
    draft = reports.draft(MONTHLY, month, "anomalies", REVIEW_COLUMNS, NUMERIC_COLUMNS)
    for rank, entry in enumerate(ranked[:TOP], start=1):
        draft.add(review_cells(month, rank, entry))
        run.rows += 1
    summary = review_summary(month, ranked, extra_lines)
    if earlier_actions:
        summary = replace(summary, lines=(*summary.lines, *earlier_actions))
    run.details = [dict(zip(REVIEW_COLUMNS, row, strict=True)) for row in summary.rows]
    run.published = draft.publish(summary)
    announce_report(run, summary, notifier, moment)
    return run
