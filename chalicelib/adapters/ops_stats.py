"""Operational statistics in DynamoDB: channel health results and the daily KPIs.

One small table, `orderhub-ops-stats` (hash `pk`, range `sk`, TTL `expires_at`):

- `HEALTH` / `platform#store`: the store's latest check and failure streak (JSON `data`);
  one Query lists every store;
- `HEALTHDAY#YYYY-MM-DD` / `platform#store`: counters each check ADDs (checks, failures,
  degraded, no_probe, latency total and samples) and the last problem; kept 90 days;
- `HEALTHSUMMARY` / `YYYY-MM-DD`: the daily summary (JSON), 400 days;
- `KPIS` / `YYYY-MM-DD`: the day's indicators (JSON), 400 days.

`DynamoKpiSources` reads what the indicators count through indexes other tables already
keep: the orders table's `placed_day` (orders placed per store and Beijing day, Select
COUNT) and the anomalies table's keys-only `rule_opened` (`rule`, `opened_at`: anomaly
episodes opened in a time range, per rule) and the after-sales table's `opened_day` (requests
opened per Beijing day). Models are built at run time (no environment
read on import).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.domain.channel_health import (
    DayCount,
    Health,
    HealthSummary,
    StoreHealth,
    subject,
)
from chalicelib.domain.kpis import DailyKpis
from chalicelib.domain.reconcile import placed_day_key

HEALTH, HEALTH_DAY, HEALTH_SUMMARY, KPIS = "HEALTH", "HEALTHDAY#", "HEALTHSUMMARY", "KPIS"
DAY_COUNTS_KEPT = timedelta(days=90)
SUMMARIES_KEPT = timedelta(days=400)


def build_ops_stats_model(table_name: str, region: str, endpoint_url: str | None = None) -> Any:
    table, aws_region, endpoint = table_name, region, endpoint_url

    class OpsStatsItem(Model):
        class Meta:
            table_name = table
            region = aws_region
            host = endpoint

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        data = UnicodeAttribute(null=True)  # JSON: latest state, summary, KPIs
        platform = UnicodeAttribute(null=True)
        store = UnicodeAttribute(null=True)
        checks = NumberAttribute(null=True)
        failures = NumberAttribute(null=True)
        degraded = NumberAttribute(null=True)
        no_probe = NumberAttribute(null=True)
        latency_ms_total = NumberAttribute(null=True)
        latency_samples = NumberAttribute(null=True)
        last_problem = UnicodeAttribute(null=True)
        last_problem_at = UnicodeAttribute(null=True)
        expires_at = NumberAttribute(null=True)  # TTL, epoch seconds

    return OpsStatsItem


def _expiry(day: str, keep: timedelta) -> int:
    end = datetime.combine(date.fromisoformat(day), time(), tzinfo=UTC) + timedelta(days=1)
    return int((end + keep).timestamp())


def _int(value: Any) -> int:
    return int(value or 0)


class DynamoOpsStats:
    """`channel_health.HealthRecords` and the KPI counters, on `orderhub-ops-stats`."""

    def __init__(self, model: Any) -> None:
        self._m = model

    # ---- channel health --------------------------------------------------------------------

    def latest(self) -> dict[str, StoreHealth]:
        found = {}
        for item in self._m.query(HEALTH, consistent_read=True):
            state = StoreHealth.from_dict(json.loads(item.data))
            found[state.key] = state
        return found

    def save(self, state: StoreHealth) -> None:
        self._m(HEALTH, state.key, data=json.dumps(state.to_dict())).save()

    def count(self, day: str, state: StoreHealth) -> None:
        m = self._m
        actions = [
            m.platform.set(state.platform),
            m.store.set(state.store_id),
            m.checks.add(1),
            m.expires_at.set(_expiry(day, DAY_COUNTS_KEPT)),
        ]
        if state.status is Health.FAILING:
            actions += [
                m.failures.add(1),
                m.last_problem.set(state.detail[:500]),
                m.last_problem_at.set(state.checked_at.astimezone(UTC).isoformat()),
            ]
        elif state.status is Health.DEGRADED:
            actions.append(m.degraded.add(1))
        elif state.status is Health.NO_PROBE:
            actions.append(m.no_probe.add(1))
        if state.latency_ms is not None and state.status is not Health.NO_PROBE:
            actions += [m.latency_ms_total.add(state.latency_ms), m.latency_samples.add(1)]
        m(f"{HEALTH_DAY}{day}", subject(state.platform, state.store_id)).update(actions=actions)

    def day_counts(self, day: str) -> list[DayCount]:
        return [
            DayCount(
                platform=str(item.platform),
                store_id=str(item.store),
                checks=_int(item.checks),
                failures=_int(item.failures),
                degraded=_int(item.degraded),
                no_probe=_int(item.no_probe),
                latency_ms_total=_int(item.latency_ms_total),
                latency_samples=_int(item.latency_samples),
                last_problem=item.last_problem or "",
                last_problem_at=item.last_problem_at or "",
            )
            for item in self._m.query(f"{HEALTH_DAY}{day}", consistent_read=True)
        ]

    def save_summary(self, summary: HealthSummary) -> None:
        self._m(
            HEALTH_SUMMARY,
            summary.day,
            data=json.dumps(summary.to_dict()),
            expires_at=_expiry(summary.day, SUMMARIES_KEPT),
        ).save()

    def summary(self, day: str) -> HealthSummary | None:
        try:
            item = self._m.get(HEALTH_SUMMARY, day, consistent_read=True)
        except self._m.DoesNotExist:
            return None
        return HealthSummary.from_dict(json.loads(item.data))

    # ---- daily KPIs ------------------------------------------------------------------------

    def save_kpis(self, kpis: DailyKpis) -> None:
        self._m(
            KPIS,
            kpis.day,
            data=json.dumps(kpis.to_dict()),
            expires_at=_expiry(kpis.day, SUMMARIES_KEPT),
        ).save()

    def kpis(self, day: str) -> Mapping[str, Any] | None:
        try:
            item = self._m.get(KPIS, day, consistent_read=True)
        except self._m.DoesNotExist:
            return None
        data: Mapping[str, Any] = json.loads(item.data)
        return data


def build_anomaly_openings_model(
    table_name: str, region: str, endpoint_url: str | None = None
) -> Any:
    """A read-only view of the anomalies table through its `rule_opened` index."""
    table, aws_region, endpoint = table_name, region, endpoint_url

    class RuleOpenedIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "rule_opened"
            projection = KeysOnlyProjection()

        rule = UnicodeAttribute(hash_key=True)
        opened_at = UTCDateTimeAttribute(range_key=True)

    class AnomalyOpening(Model):
        class Meta:
            table_name = table
            region = aws_region
            host = endpoint

        anomaly_key = UnicodeAttribute(hash_key=True)
        rule = UnicodeAttribute(null=True)
        opened_at = UTCDateTimeAttribute(null=True)
        by_rule_opened = RuleOpenedIndex()

    return AnomalyOpening


class DynamoKpiSources:
    """What the daily KPIs count, read through indexes (Select COUNT: nothing is fetched)."""

    def __init__(self, orders_model: Any, openings_model: Any, after_sales: Any) -> None:
        self._orders = orders_model
        self._openings = openings_model
        self._after_sales = after_sales  # adapters/after_sales.py DynamoAfterSales

    def orders_placed(self, platform: str, store: str, day: date) -> int:
        return int(self._orders.by_placed_day.count(placed_day_key(platform, store, day)))

    def anomalies_opened(self, rule: str, start: datetime, end: datetime) -> int:
        """Episodes of `rule` opened in [start, end)."""
        m = self._openings
        last = end.astimezone(UTC) - timedelta(microseconds=1)
        return int(m.by_rule_opened.count(rule, m.opened_at.between(start.astimezone(UTC), last)))

    def after_sales_opened(self, day: date) -> int:
        """After-sales requests first seen on Beijing `day` (`opened_day` index)."""
        return int(self._after_sales.opened_on(day))
