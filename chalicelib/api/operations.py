"""Health and scheduled operations."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.adapters.deferred import deferred_imports
from chalicelib.api.http import api_errors, json_response
from chalicelib.deps import Container, container
from chalicelib.domain.conservation import Balance, parse_day, report
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.kpis import oversold_stock_items
from chalicelib.domain.model import Anomaly, Priority
from chalicelib.observability import logger, metrics

if TYPE_CHECKING:
    from chalicelib.domain.dlq import describe
    from chalicelib.domain.ledger_audit import run_ledger
    from chalicelib.domain.processing import expire_reservation
    from chalicelib.domain.stock_ops import audit_stock
else:  # the jobs' own domain modules come with their first call (adapters/deferred.py)
    globals().update(deferred_imports(__file__, "chalicelib.domain"))

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
    opens a P0 anomaly per stock item. The ledger's sums come from the last checkpoint plus
    the movements since (domain/ledger_audit.py): about one day read, not all history."""
    deps = container()
    repo = deps.orders
    levels = repo.all_stock()
    now = deps.now()
    ledger = run_ledger(deps.ledger_source, now)
    drifts = audit_stock(levels, ledger.expected, list(repo.open_orders()))
    by_item: dict[str, list[str]] = {}
    for d in drifts:
        by_item.setdefault(f"{d.sku}#{d.warehouse}", []).append(
            f"{d.bucket} is {d.stored}, {d.source} say {d.expected}"
        )
    for subject, details in by_item.items():
        repo.open_anomaly(Anomaly("inventory_drift", subject, Priority.P0, "; ".join(details)), now)
    metrics().add_metric(name="InventoryDriftItems", unit="Count", value=len(by_item))
    # the oversell guard (domain/kpis.py): negative `available` or drift; target 0
    oversold = oversold_stock_items(levels, ((d.sku, d.warehouse) for d in drifts))
    metrics().add_metric(name="OversoldStockItems", unit="Count", value=len(oversold))
    logger().info(
        "inventory audit",
        extra={
            "drifting_items": len(by_item),
            "ledger_records_read": ledger.records_read,
            "ledger_days_read": ledger.days_read,
            "full_history": ledger.full_history,  # the first run: no checkpoint yet
            "checkpoint_through": ledger.checkpoint.through.isoformat(),
        },
    )
    return {
        "drifting_items": len(by_item),
        "drifts": by_item,
        "ledger": {
            "records_read": ledger.records_read,
            "days_read": ledger.days_read,
            "full_history": ledger.full_history,
        },
    }


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


@bp.schedule("rate(1 minute)")
def check_pending_events(event: Any) -> dict[str, Any]:
    """Events still not final after ORDERHUB_PENDING_ALERT_SECONDS: a crash between the commit
    and the trail write is repaired from the event record; any other opens a P0 anomaly."""
    deps = container()
    now = deps.now()
    threshold = deps.settings.pending_alert_seconds
    overdue = deps.trail.pending_before(now - timedelta(seconds=threshold))
    repaired, alerted = [], []
    for item in overdue:
        key = str(item["event_key"])
        record = deps.orders.get_event_outcome(key)
        if record is not None and record["outcome"] != "staging":
            deps.trail.finalize(key, str(record["outcome"]))
            repaired.append(key)
            continue
        deps.orders.open_anomaly(
            Anomaly(
                "event_pending",
                key,
                Priority.P0,
                f"received {item['received_at']}, not final after {threshold}s; "
                f"{len(item.get('attempts') or [])} attempts",
            ),
            now,
        )
        alerted.append(key)
    metrics().add_metric(name="EventsPendingTooLong", unit="Count", value=len(alerted))
    logger().info(
        "pending events checked",
        extra={"overdue": len(overdue), "repaired": len(repaired), "alerted": len(alerted)},
    )
    return {"overdue": len(overdue), "repaired": repaired, "alerted": alerted}


def conservation(deps: Container, day_text: str, store: str | None = None) -> list[Balance]:
    """Every configured store's balance for a UTC day (or one store, `platform/store`)."""
    try:
        day = parse_day(day_text)
    except ValueError:
        raise InvalidPayload(f"date must be YYYY-MM-DD, got '{day_text}'") from None
    stores = [(s.platform, s.store_id) for s in deps.catalog.list_stores()]
    if store:
        stores = [s for s in stores if store in (s[1], f"{s[0]}/{s[1]}")]
    parked = [describe(m, deps.loader.load).event_key for m in deps.dead_letters.browse()]
    depth = deps.queue_monitor.depths()["orders"]
    return report(
        day, stores, deps.trail, deps.orders, parked, depth["visible"] + depth["in_flight"]
    )


@bp.route("/ops/conservation", methods=["GET"])
@api_errors
def handle_conservation() -> Any:
    """accepted = booked + rejected + held + settled without change + in DLQ + in flight, per
    store, for ?date=YYYY-MM-DD (UTC); `difference` flags events lost."""
    params: dict[str, str] = dict(bp.current_request.query_params or {})
    balances = conservation(container(), params.get("date", ""), params.get("store"))
    return json_response(
        {
            "date": params.get("date"),
            "stores": [b.to_dict() for b in balances],
            "difference": any(b.difference for b in balances),
        }
    )
