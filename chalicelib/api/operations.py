"""Health and scheduled operations."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.http import json_response
from chalicelib.deps import container
from chalicelib.observability import logger, metrics

bp = Blueprint(__name__)


@bp.route("/health", methods=["GET"])
def handle_health() -> Any:
    """200 when every dependency answers; 503 naming the ones that do not."""
    deps = container()
    checks: dict[str, str] = {}
    probes = {
        "dynamodb": lambda: deps.catalog_store.list_warehouses(),
        "sqs": lambda: deps.queue_monitor.depths(),
    }
    for name, probe in probes.items():
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # a health check reports, it never raises
            checks[name] = f"error: {type(exc).__name__}: {exc}"
    healthy = all(v == "ok" for v in checks.values())
    return json_response(
        {"status": "ok" if healthy else "degraded", "checks": checks}, 200 if healthy else 503
    )


@bp.schedule("rate(1 minute)")
def publish_queue_metrics(event: Any) -> dict[str, Any]:
    """Queue and DLQ depth as metrics, so alarms and dashboards see a backlog building."""
    depths = container().queue_monitor.depths()
    collected = metrics()
    for queue, numbers in depths.items():
        collected.add_metric(name=f"{queue}_visible", unit="Count", value=numbers["visible"])
        collected.add_metric(name=f"{queue}_in_flight", unit="Count", value=numbers["in_flight"])
    logger().info("queue depths", extra={"depths": depths})
    return depths
