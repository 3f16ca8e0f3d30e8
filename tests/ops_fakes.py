"""In-memory fakes for channel health and the daily KPIs. The contract tests
(tests/integration/test_ops_stats_contract.py) run the same suite against these and the
DynamoDB adapters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from chalicelib.domain.channel_health import (
    DayCount,
    Health,
    HealthSummary,
    Observation,
    StoreHealth,
    subject,
)
from chalicelib.domain.kpis import DailyKpis
from chalicelib.domain.ports import Store


class FakeOpsStats:
    """Same contract as adapters/ops_stats.DynamoOpsStats."""

    def __init__(self) -> None:
        self.states: dict[str, StoreHealth] = {}
        self.days: dict[str, dict[str, DayCount]] = {}
        self.summaries: dict[str, HealthSummary] = {}
        self.saved_kpis: dict[str, dict[str, Any]] = {}
        self.failing: Exception | None = None  # every write raises this when set

    def latest(self) -> dict[str, StoreHealth]:
        return dict(self.states)

    def save(self, state: StoreHealth) -> None:
        if self.failing is not None:
            raise self.failing
        self.states[state.key] = state

    def count(self, day: str, state: StoreHealth) -> None:
        if self.failing is not None:
            raise self.failing
        key = subject(state.platform, state.store_id)
        c = self.days.setdefault(day, {}).get(key) or DayCount(state.platform, state.store_id)
        c = replace(c, checks=c.checks + 1)
        if state.status is Health.FAILING:
            c = replace(
                c,
                failures=c.failures + 1,
                last_problem=state.detail[:500],
                last_problem_at=state.checked_at.isoformat(),
            )
        elif state.status is Health.DEGRADED:
            c = replace(c, degraded=c.degraded + 1)
        elif state.status is Health.NO_PROBE:
            c = replace(c, no_probe=c.no_probe + 1)
        if state.latency_ms is not None and state.status is not Health.NO_PROBE:
            c = replace(
                c,
                latency_ms_total=c.latency_ms_total + state.latency_ms,
                latency_samples=c.latency_samples + 1,
            )
        self.days[day][key] = c

    def day_counts(self, day: str) -> list[DayCount]:
        return sorted(self.days.get(day, {}).values(), key=lambda c: (c.platform, c.store_id))

    def save_summary(self, summary: HealthSummary) -> None:
        self.summaries[summary.day] = summary

    def summary(self, day: str) -> HealthSummary | None:
        return self.summaries.get(day)

    def save_kpis(self, kpis: DailyKpis) -> None:
        self.saved_kpis[kpis.day] = kpis.to_dict()

    def kpis(self, day: str) -> Mapping[str, Any] | None:
        return self.saved_kpis.get(day)


class FakeKpiSources:
    """Orders placed per (platform, store, day) and anomaly openings per rule, as given."""

    def __init__(self) -> None:
        self.placed: dict[tuple[str, str, date], int] = {}
        self.openings: list[tuple[str, datetime]] = []
        self.after_sales: dict[date, int] = {}

    def orders_placed(self, platform: str, store: str, day: date) -> int:
        return self.placed.get((platform, store, day), 0)

    def anomalies_opened(self, rule: str, start: datetime, end: datetime) -> int:
        return sum(1 for r, at in self.openings if r == rule and start <= at < end)

    def after_sales_opened(self, day: date) -> int:
        return self.after_sales.get(day, 0)


class FakeProbe:
    """Answers what it is told, per store id; `error` makes it raise (a broken probe)."""

    def __init__(self, observation: Observation | None = None) -> None:
        self.observation = observation or Observation(answered=True, latency_ms=120)
        self.per_store: dict[str, Observation] = {}
        self.error: Exception | None = None
        self.calls: list[str] = []

    def probe(self, store: Store) -> Observation:
        self.calls.append(store.store_id)
        if self.error is not None:
            raise self.error
        return self.per_store.get(store.store_id, self.observation)


class FakeAnomalySink:
    def __init__(self) -> None:
        self.opened: list[tuple[str, str, str, datetime]] = []  # rule, subject, priority, at
        self.error: Exception | None = None

    def open_anomaly(self, anomaly: Any, now: datetime) -> None:
        if self.error is not None:
            raise self.error
        self.opened.append((anomaly.rule, anomaly.subject, anomaly.priority.value, now))
