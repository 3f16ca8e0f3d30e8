"""The order board: orders and GMV per platform per day, and the four service indicators
(sync latency median, oversell rate, anomaly ratio, customer chase rate) against their
targets (domain/kpis.py). Pure: the counts come from indexes (api/console_api.py).

GMV counts the amounts (quantity x unit price) of orders placed that day that are neither
cancelled, refunded nor rejected, per currency; orders counts every order placed.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.kpis import TARGETS

MAX_BOARD_DAYS = 14
DEFAULT_BOARD_DAYS = 7
VOID_STATUSES = frozenset({"cancelled", "refunded"})
NOT_BOOKED = frozenset({"rejected_out_of_stock", "rejected_invalid"})


def board_days(params: Mapping[str, str], today: date) -> list[date]:
    """`from`/`to` (Beijing days, default the last 7 through today), at most 31 days."""
    try:
        to = date.fromisoformat(params["to"]) if params.get("to") else today
        start = (
            date.fromisoformat(params["from"])
            if params.get("from")
            else to - timedelta(days=DEFAULT_BOARD_DAYS - 1)
        )
    except ValueError:
        raise InvalidPayload("from and to must be days YYYY-MM-DD") from None
    if to < start:
        raise InvalidPayload("to must not be before from")
    if (to - start).days >= MAX_BOARD_DAYS:
        raise InvalidPayload(f"from..to spans at most {MAX_BOARD_DAYS} days")
    return [start + timedelta(days=n) for n in range((to - start).days + 1)]


@dataclass(frozen=True)
class PlacedRow:
    status: str
    booking: str
    amount: str
    currency: str


def day_totals(rows: Iterable[PlacedRow]) -> tuple[int, dict[str, Decimal]]:
    count = 0
    gmv: dict[str, Decimal] = {}
    for row in rows:
        count += 1
        if row.status in VOID_STATUSES or row.booking in NOT_BOOKED:
            continue
        gmv[row.currency] = gmv.get(row.currency, Decimal(0)) + Decimal(row.amount or "0")
    return count, gmv


def latency_seconds(trail: Mapping[str, Any]) -> float | None:
    """Seconds from receipt to the final attempt of one event's trail; None if not final."""
    received = trail.get("received_at")
    finals = [a for a in trail.get("attempts") or [] if a.get("outcome")]
    if not received or not finals or not trail.get("final_outcome"):
        return None
    end = datetime.fromisoformat(str(finals[-1]["at"]))
    return max(0.0, (end - datetime.fromisoformat(str(received))).total_seconds())


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def metric_view(name: str, value: float | None) -> dict[str, Any]:
    target = TARGETS[name]
    return {
        "value": value,
        "target": target,
        "met": None if value is None else (value <= target if target == 0 else value < target),
    }


def board_view(
    days: Sequence[date],
    per_platform: Mapping[str, Mapping[str, tuple[int, Mapping[str, Decimal]]]],
    kpis: Mapping[str, Mapping[str, Any] | None],
    latencies: Mapping[str, Sequence[float]],
    amounts: bool = True,
) -> dict[str, Any]:
    """`per_platform[platform][day] = (orders, gmv per currency)`; `kpis[day]` the day's
    indicators (domain/kpis.py `to_dict`, None when not counted); `latencies[day]` seconds."""
    series = []
    for platform in sorted(per_platform):
        points = []
        for day in days:
            orders, gmv = per_platform[platform].get(day.isoformat(), (0, {}))
            point: dict[str, Any] = {"day": day.isoformat(), "orders": orders}
            if amounts:
                point["gmv"] = {c: str(v) for c, v in sorted(gmv.items())}
            points.append(point)
        series.append({"platform": platform, "days": points})
    metrics = []
    for day in days:
        found = kpis.get(day.isoformat()) or {}
        metrics.append(
            {
                "day": day.isoformat(),
                "new_orders": found.get("new_orders"),
                "sync_latency_p50_seconds": metric_view(
                    "sync_latency_p50_seconds", median(latencies.get(day.isoformat(), []))
                ),
                "oversell_rate_pct": metric_view(
                    "oversell_rate_pct", found.get("oversell_rate_pct")
                ),
                "anomaly_ratio_pct": metric_view(
                    "anomaly_ratio_pct", found.get("anomaly_ratio_pct")
                ),
                "customer_chase_rate_pct": metric_view(
                    "customer_chase_rate_pct", found.get("customer_chase_rate_pct")
                ),
            }
        )
    return {
        "from": days[0].isoformat(),
        "to": days[-1].isoformat(),
        "day_zone": "Asia/Shanghai",
        "platforms": series,
        "metrics": metrics,
        "targets": dict(TARGETS),
    }
