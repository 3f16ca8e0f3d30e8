"""Warehouse-side writes: WMS outbound confirmations and stock adjustments (API key needed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.adapters.deferred import deferred_imports
from chalicelib.api.access import audit
from chalicelib.api.http import api_errors, json_response, read_json
from chalicelib.api.queries import order_view, stock_view
from chalicelib.api.tracking import subscribe_shipment
from chalicelib.deps import Container, container
from chalicelib.domain.audit import Action
from chalicelib.domain.errors import NotFound
from chalicelib.domain.model import Order, order_key
from chalicelib.domain.tracking import parse_tracking
from chalicelib.observability import logger

if TYPE_CHECKING:
    from chalicelib.domain.processing import adjust_stock, ship_order
    from chalicelib.domain.stock_ops import (
        check_known_warehouse,
        parse_adjustment,
        parse_outbound_confirmation,
    )
else:  # booking's modules come with the first call that moves stock (adapters/deferred.py)
    globals().update(deferred_imports(__file__, "chalicelib.domain"))

bp = Blueprint(__name__)

BUCKETS = ("on_hand", "locked", "reserved", "available")


def _level(deps: Container, sku: str, warehouse: str) -> dict[str, Any] | None:
    """One stock item's buckets, for the audit's before/after."""
    found = [lvl for lvl in deps.orders.get_sku_levels(sku) if lvl.warehouse == warehouse]
    return {b: getattr(found[0], b) for b in BUCKETS} if found else None


def _shipment_state(order: Order | None) -> dict[str, Any]:
    """An order's booking and holds, for the audit's before/after (no buyer data)."""
    if order is None:
        return {}
    return {"booking": order.booking.value, "holds": [h.to_dict() for h in order.holds]}


def _json_body() -> Any:
    return read_json(bp.current_request.raw_body)


@bp.route("/wms/outbound-confirmations", methods=["POST"])
@api_errors
def handle_outbound_confirmation() -> Any:
    """Units left the warehouse: locked and on_hand go down together. Idempotent by id."""
    deps = container()
    body = _json_body()
    confirmation = parse_outbound_confirmation(body)
    tracking = parse_tracking(body)  # optional {carrier, number}: the parcel is followed
    key = order_key(confirmation.platform, confirmation.store, confirmation.order_id)
    before = _shipment_state(deps.orders.get_order(key))
    result = ship_order(confirmation, deps.orders, deps.now)
    logger().info(
        "outbound confirmation",
        extra={"confirmation_id": confirmation.confirmation_id, "outcome": result.outcome.value},
    )
    order = deps.orders.get_order(key)
    if order is None:  # pragma: no cover - ship_order raised NotFound already
        raise NotFound("order vanished")
    if result.outcome.value != "duplicate":
        shipped = [{"sku": s.sku, "quantity": s.quantity} for s in confirmation.lines]
        audit(
            Action.WMS_CONFIRM,
            f"order/{key}",
            before=before,
            after={
                "confirmation_id": confirmation.confirmation_id,
                "shipped": shipped,
                **_shipment_state(order),
            },
            request=bp.current_request,
        )
    answer = {
        "status": "duplicate" if result.outcome.value == "duplicate" else "shipped",
        "order": order_view(order),
    }
    if tracking is not None:
        answer["tracking"] = subscribe_shipment(
            deps, key, *tracking, confirmation_id=confirmation.confirmation_id
        )
    return json_response(answer)


@bp.route("/inventory/{sku}/adjustments", methods=["POST"])
@api_errors
def handle_stock_adjustment(sku: str) -> Any:
    """Receipts, returns and cycle counts, with a reason; never below what is committed."""
    deps = container()
    adjustment = parse_adjustment(sku, _json_body())
    check_known_warehouse(adjustment.warehouse, deps.warehouses())
    before = _level(deps, sku, adjustment.warehouse)
    result = adjust_stock(adjustment, deps.orders, deps.now)
    logger().info(
        "stock adjusted",
        extra={
            "adjustment_id": adjustment.adjustment_id,
            "kind": adjustment.kind,
            "outcome": result.outcome.value,
        },
    )
    if result.outcome.value != "duplicate":
        audit(
            Action.STOCK_ADJUST,
            f"inventory/{sku}/{adjustment.warehouse}",
            before=before,
            after={
                "adjustment_id": adjustment.adjustment_id,
                "kind": adjustment.kind,
                "quantity": adjustment.quantity,
                "reason": adjustment.reason,
                **(_level(deps, sku, adjustment.warehouse) or {}),
            },
            request=bp.current_request,
        )
    return json_response(
        {
            "status": "duplicate" if result.outcome.value == "duplicate" else "applied",
            "stock": stock_view(sku, deps.orders.get_sku_levels(sku)),
        }
    )
