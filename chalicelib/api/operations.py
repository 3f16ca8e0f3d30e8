"""Health and scheduled operations."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.http import json_response
from chalicelib.deps import container
from chalicelib.domain.model import Anomaly, Priority
from chalicelib.domain.processing import expire_reservation
from chalicelib.domain.stock_ops import audit_stock, ledger_balances
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


@bp.schedule("rate(1 minute)")
def release_expired_reservations(event: Any) -> dict[str, Any]:
    """Unpaid orders past their store's reservation timeout give their stock back."""
    deps = container()
    due = deps.orders.orders_due_for_expiry(deps.now())
    released = 0
    for order in due:
        result = expire_reservation(order.key, deps.orders, deps.now)
        released += result.outcome.value == "booked"
    metrics().add_metric(name="ReservationsExpired", unit="Count", value=released)
    logger().info("expired reservations released", extra={"due": len(due), "released": released})
    return {"due": len(due), "released": released}


@bp.schedule("cron(30 16 * * ? *)")  # 00:30 Beijing
def audit_inventory(event: Any) -> dict[str, Any]:
    """Recompute every balance from the ledger and locked/reserved from open orders; any drift
    opens a P0 anomaly per stock item."""
    deps = container()
    repo = deps.orders
    drifts = audit_stock(
        repo.all_stock(), ledger_balances(list(repo.ledger())), list(repo.open_orders())
    )
    now = deps.now()
    by_item: dict[str, list[str]] = {}
    for d in drifts:
        by_item.setdefault(f"{d.sku}#{d.warehouse}", []).append(
            f"{d.bucket} is {d.stored}, {d.source} say {d.expected}"
        )
    for subject, details in by_item.items():
        repo.open_anomaly(Anomaly("inventory_drift", subject, Priority.P0, "; ".join(details)), now)
    metrics().add_metric(name="InventoryDriftItems", unit="Count", value=len(by_item))
    logger().info("inventory audit", extra={"drifting_items": len(by_item)})
    return {"drifting_items": len(by_item), "drifts": by_item}


@bp.route("/ops/dlq", methods=["GET"])
def handle_dlq_status() -> Any:
    """How many order events are parked, and how long the oldest has waited (sampled)."""
    deps = container()
    dlq = deps.dead_letters
    oldest = dlq.sample_oldest_sent()
    age = None if oldest is None else round(deps.now().timestamp() - oldest / 1000)
    return json_response(
        {
            "depth": dlq.depth(),
            "oldest_age_seconds": age,
            "replay": "bin/orderhub dlq replay [--dry-run] [--since] [--store]",
        }
    )
