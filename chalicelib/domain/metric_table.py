"""The seed's metric table, as configuration the code follows. Pure Python.

| indicator | target | when missed |
|---|---|---|
| sync delay (median) | < 60 s | WeCom + email |
| oversell rate | 0 % | SMS + a banner in the console |
| anomaly share | < 3 % | the weekly email report |
| customer chase rate | < 1.5 % | the monthly review |

Each row names its CloudWatch alarm (infra/resources.json; a test keeps metric, threshold and
priority equal) and what the alarm relay does with it (`via`: channel types its notice reaches
besides its routes; `banner`: shown by `GET /ops/banners` while in ALARM), and where the
indicator is reviewed (`review`: the weekly report, the monthly review). The daily values come
from `publish_daily_kpis` (chalicelib/domain/kpis.py), sync delay from the processor.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.kpis import TARGETS

WEEKLY, MONTHLY = "weekly_report", "monthly_review"


@dataclass(frozen=True)
class Indicator:
    name: str
    label: str  # as people say it
    metric: str  # CloudWatch metric (namespace OrderHub)
    kpi: str  # the key in DailyKpis.metrics() / TARGETS ("" when not a daily KPI)
    target: str  # as people read it
    threshold: float  # the alarm fires above it
    alarm: str
    priority: str  # the alerts topic its alarm acts on
    via: tuple[str, ...] = ()
    banner: bool = False
    review: str = ""


METRIC_TABLE: tuple[Indicator, ...] = (
    Indicator(
        "sync_latency",
        "sync delay (median)",
        "WebhookToBookedSeconds",
        "",
        "< 60 s",
        TARGETS["sync_latency_p50_seconds"],
        "orderhub-sync-latency-p50-over-60s",
        "P1",
        via=("wecom", "email"),
    ),
    Indicator(
        "oversell_rate",
        "oversell rate",
        "OversellRate",
        "OversellRate",
        "0 %",
        TARGETS["oversell_rate_pct"],
        "orderhub-oversell-rate-above-0",
        "P0",
        via=("sms",),
        banner=True,
    ),
    Indicator(
        "anomaly_ratio",
        "anomaly share",
        "AnomalyRatio",
        "AnomalyRatio",
        "< 3 %",
        TARGETS["anomaly_ratio_pct"],
        "orderhub-anomaly-ratio-over-3-pct",
        "P2",
        via=("email",),
        review=WEEKLY,
    ),
    Indicator(
        "customer_chase_rate",
        "customer chase rate",
        "CustomerChaseRate",
        "CustomerChaseRate",
        "< 1.5 %",
        TARGETS["customer_chase_rate_pct"],
        "orderhub-customer-chase-rate-over-1.5-pct",
        "P2",
        via=("email",),
        review=MONTHLY,
    ),
)

BY_ALARM = {row.alarm: row for row in METRIC_TABLE}
BY_NAME = {row.name: row for row in METRIC_TABLE}


def missed(row: Indicator, value: float | None) -> bool:
    """Whether a measured value misses the row's target (None: not measured, not missed)."""
    return value is not None and value > row.threshold
