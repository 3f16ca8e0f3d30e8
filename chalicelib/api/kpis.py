"""The daily service indicators (chalicelib/domain/kpis.py defines each one).

`publish_daily_kpis` (00:20 Beijing) counts the Beijing day that just ended through indexes
(orders placed per store, anomaly episodes opened per rule, after-sales requests opened),
stores the result in `orderhub-ops-stats` (`KPIS`/day) and emits the rates as EMF metrics
for the alarms and the dashboard; `GET /ops/kpis?date=` serves what was stored. Sync latency
needs no job: the processor emits `WebhookToBookedSeconds` per event.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from chalice import Blueprint

from chalicelib.api.http import api_errors, json_response
from chalicelib.deps import Container, container
from chalicelib.domain.anomaly_rules import RULES
from chalicelib.domain.conservation import parse_day
from chalicelib.domain.errors import InvalidPayload, NotFound
from chalicelib.domain.kpis import DailyKpis, daily_kpis, day_bounds, previous_kpi_day
from chalicelib.observability import logger, metrics

bp = Blueprint(__name__)


def count_kpis(deps: Container, day: date) -> DailyKpis:
    sources = deps.kpi_sources
    new_orders = sum(
        sources.orders_placed(store.platform, store.store_id, day)
        for store in deps.catalog.list_stores()
    )
    start, end = day_bounds(day)
    opened = {rule: sources.anomalies_opened(rule, start, end) for rule in RULES}
    return daily_kpis(day, new_orders, opened, chased_orders=sources.after_sales_opened(day))


def publish_kpis(deps: Container, day: date) -> dict[str, Any]:
    kpis = count_kpis(deps, day)
    deps.ops_stats.save_kpis(kpis)
    collected = metrics()
    for name, value in kpis.metrics().items():
        collected.add_metric(name=name, unit=MetricUnit.Percent, value=value)
    collected.add_metric(name="NewOrders", unit=MetricUnit.Count, value=kpis.new_orders)
    collected.add_metric(name="AnomaliesOpened", unit=MetricUnit.Count, value=kpis.anomalies_opened)
    logger().info("daily KPIs", extra=kpis.to_dict())
    return kpis.to_dict()


@bp.schedule("cron(20 16 * * ? *)")  # 00:20 Beijing: the Beijing day that just ended
def publish_daily_kpis(event: Any) -> dict[str, Any]:
    """Yesterday's new orders, oversell rate, anomaly ratio and customer chase rate: stored
    and emitted as metrics."""
    deps = container()
    return publish_kpis(deps, previous_kpi_day(deps.now()))


@bp.route("/ops/kpis", methods=["GET"])
@api_errors
def handle_kpis() -> Any:
    """The indicators stored for `?date=YYYY-MM-DD` (a Beijing day; made at 00:20 after it)."""
    params: dict[str, str] = dict(bp.current_request.query_params or {})
    text = params.get("date", "")
    try:
        day = parse_day(text).isoformat()
    except ValueError:
        raise InvalidPayload(f"date must be YYYY-MM-DD, got '{text}'") from None
    found = container().ops_stats.kpis(day)
    if found is None:
        raise NotFound(f"no indicators for {day} (publish_daily_kpis runs at 00:20 Beijing)")
    return json_response(found)
