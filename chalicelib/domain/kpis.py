"""The daily service indicators and exactly what each one counts. Pure Python.

Targets (issue 6): sync latency median < 60 s, oversell 0 %, anomaly ratio < 3 %, customer
chase rate < 1.5 %. Each is an EMF metric (namespace OrderHub, dimension service=orderhub)
with a CloudWatch alarm in infra/resources.json; docs/operations.md's alarm table says what to do.
Days are Beijing days (00:00-24:00 Asia/Shanghai), as in the reconciliation reports.

- **Sync latency** (`WebhookToBookedSeconds`, emitted by the processor for every processed
  event): seconds from OrderHub receiving the event (the webhook's arrival; for Amazon the
  notification reaching our queue; for pull platforms the poll that read it) to its booking
  commit. The alarm reads its p50 over 5-minute periods. For pull platforms the platform's
  own delay before we read (the settle lag, 180 s, plus up to a minute between polls) is not
  in it.
- **New orders** (`NewOrders`, the rates' denominator): orders placed on the day, counted
  through the orders table's `placed_day` index (`platform#store#day`, the day of the
  order's first event, Beijing), summed over every store in the catalog.
- **Oversell rate** (`OversellRate`, %) = 100 × oversold orders ÷ new orders. An *oversold
  order* is one a channel sold that stock could not cover: OrderHub opened an
  `out_of_stock` anomaly (rejected, or an update held, for want of stock) or a `backorder`
  anomaly (accepted without stock by a backorder store) for it that day. Stock itself can
  never be oversold by OrderHub (its conditions keep `available` ≥ 0); the nightly audit
  proves it with **OversoldStockItems** (count): stock items (SKU × warehouse) whose
  `available` is negative or whose balances drift from the ledger or the open orders.
  Target 0 for both.
- **Anomaly ratio** (`AnomalyRatio`, %) = 100 × anomalies opened that day ÷ new orders. An
  anomaly is opened once per (rule, subject) and episode: the day of its `opened_at`, read
  through the anomalies table's keys-only index `rule_opened` (`rule`, `opened_at`), one
  Query per rule of the rules table (domain/anomaly_rules.py). A resolved episode keeps its
  `opened_at` in its own record, so an anomaly resolved and reopened counts twice, repeats of
  an open one (`occurrences`) never. Every rule and priority counts.
- **Customer chase rate** (`CustomerChaseRate`, %) = 100 × after-sales requests opened that
  day ÷ new orders. A "chase" is a buyer-initiated after-sales request as the platform
  reports it (domain/after_sales.py; channels/after_sales.py, after_sales_platforms.py,
  after_sales_pull.py): TikTok Shop reverse orders, Douyin refund messages, Shopify returns
  and refunds, Taobao/Tmall TMC refund messages, Pinduoduo and JD after-sales lists (pulled),
  WooCommerce refunds, BigCommerce refund callbacks, Amazon cancellation requests and the own
  shop's refund events (`CHASE_SOURCES`: every platform). Counted through the after-sales
  table's `opened_day` index (the Beijing day a request was first seen), once per request.
  Not counted: the platforms' urge-shipment ("催发货") and complaint messages (OrderHub
  receives none) and Amazon's returns (return reports, not notified).

Rates are not emitted for a day without new orders (undefined, not 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.domain.model import StockLevel

KPI_ZONE = ZoneInfo("Asia/Shanghai")  # the business day, as the reconciliation's
OVERSELL_RULES = ("out_of_stock", "backorder")
# Platforms whose after-sales requests OrderHub ingests and counts (channels/after_sales*.py).
CHASE_SOURCES: tuple[str, ...] = (
    "tiktok",
    "douyin",
    "shopify",
    "taobao",
    "pinduoduo",
    "jd",
    "woocommerce",
    "bigcommerce",
    "amazon",
    "mall",
)
TARGETS = {  # the issue's targets; the alarms' thresholds (infra/resources.json)
    "sync_latency_p50_seconds": 60.0,
    "oversell_rate_pct": 0.0,
    "anomaly_ratio_pct": 3.0,
    "customer_chase_rate_pct": 1.5,
}


def kpi_day(moment: datetime) -> date:
    """The Beijing day `moment` falls on."""
    return moment.astimezone(KPI_ZONE).date()


def previous_kpi_day(now: datetime) -> date:
    """The Beijing day that ended most recently (the job runs at 00:20 Beijing)."""
    return kpi_day(now) - timedelta(days=1)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a Beijing day, as aware datetimes."""
    start = datetime.combine(day, time(0), KPI_ZONE)
    return start, start + timedelta(days=1)


def oversold_stock_items(
    levels: Iterable[StockLevel], drifting: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Stock items (SKU, warehouse) oversold by OrderHub itself: `available` below zero, or a
    balance that drifts from the ledger / open orders (the nightly audit's findings)."""
    negative = {(lvl.sku, lvl.warehouse) for lvl in levels if lvl.available < 0}
    return negative | set(drifting)


def percent(part: int, whole: int) -> float | None:
    return None if whole <= 0 else round(100.0 * part / whole, 3)


@dataclass(frozen=True)
class DailyKpis:
    day: str  # YYYY-MM-DD, Beijing
    new_orders: int
    anomalies_by_rule: Mapping[str, int] = field(default_factory=dict)
    chased_orders: int | None = None  # after-sales requests opened; None: no source ingested

    @property
    def anomalies_opened(self) -> int:
        return sum(self.anomalies_by_rule.values())

    @property
    def oversold_orders(self) -> int:
        return sum(self.anomalies_by_rule.get(rule, 0) for rule in OVERSELL_RULES)

    @property
    def oversell_rate(self) -> float | None:
        return percent(self.oversold_orders, self.new_orders)

    @property
    def anomaly_ratio(self) -> float | None:
        return percent(self.anomalies_opened, self.new_orders)

    @property
    def customer_chase_rate(self) -> float | None:
        if self.chased_orders is None:
            return None
        return percent(self.chased_orders, self.new_orders)

    def metrics(self) -> dict[str, float]:
        """The rates to emit (name → percent); undefined ones are left out."""
        values = {
            "OversellRate": self.oversell_rate,
            "AnomalyRatio": self.anomaly_ratio,
            "CustomerChaseRate": self.customer_chase_rate,
        }
        return {name: value for name, value in values.items() if value is not None}

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "day_zone": str(KPI_ZONE),
            "new_orders": self.new_orders,
            "oversold_orders": self.oversold_orders,
            "anomalies_opened": self.anomalies_opened,
            "anomalies_by_rule": dict(self.anomalies_by_rule),
            "chased_orders": self.chased_orders,
            "oversell_rate_pct": self.oversell_rate,
            "anomaly_ratio_pct": self.anomaly_ratio,
            "customer_chase_rate_pct": self.customer_chase_rate,
            "customer_chase_source": ", ".join(CHASE_SOURCES)
            or "none: no platform's after-sales or chase events are ingested yet",
            "targets": dict(TARGETS),
        }


def daily_kpis(
    day: date,
    new_orders: int,
    anomalies_by_rule: Mapping[str, int],
    chased_orders: int | None = None,
) -> DailyKpis:
    """`chased_orders`: after-sales requests opened that day (None: not counted)."""
    return DailyKpis(
        day=day.isoformat(),
        new_orders=new_orders,
        anomalies_by_rule={k: v for k, v in sorted(anomalies_by_rule.items()) if v},
        chased_orders=chased_orders if CHASE_SOURCES else None,
    )
