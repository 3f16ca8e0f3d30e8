"""Warehouse-side writes: WMS outbound confirmations and stock adjustments (API key needed)."""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint

from chalicelib.api.http import api_errors, json_response
from chalicelib.api.queries import order_view, stock_view
from chalicelib.deps import container
from chalicelib.domain.errors import InvalidPayload, NotFound
from chalicelib.domain.model import order_key
from chalicelib.domain.processing import adjust_stock, ship_order
from chalicelib.domain.stock_ops import parse_adjustment, parse_outbound_confirmation
from chalicelib.observability import logger

bp = Blueprint(__name__)


def _json_body() -> Any:
    raw = bp.current_request.raw_body or b""
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidPayload(f"body is not valid JSON: {exc}") from None


@bp.route("/wms/outbound-confirmations", methods=["POST"])
@api_errors
def handle_outbound_confirmation() -> Any:
    """Units left the warehouse: locked and on_hand go down together. Idempotent by id."""
    deps = container()
    confirmation = parse_outbound_confirmation(_json_body())
    result = ship_order(confirmation, deps.orders, deps.now)
    logger().info(
        "outbound confirmation",
        extra={"confirmation_id": confirmation.confirmation_id, "outcome": result.outcome.value},
    )
    order = deps.orders.get_order(
        order_key(confirmation.platform, confirmation.store, confirmation.order_id)
    )
    if order is None:  # pragma: no cover - ship_order raised NotFound already
        raise NotFound("order vanished")
    return json_response(
        {
            "status": "duplicate" if result.outcome.value == "duplicate" else "shipped",
            "order": order_view(order),
        }
    )


@bp.route("/inventory/{sku}/adjustments", methods=["POST"])
@api_errors
def handle_stock_adjustment(sku: str) -> Any:
    """Receipts, returns and cycle counts, with a reason; never below what is committed."""
    deps = container()
    adjustment = parse_adjustment(sku, _json_body())
    result = adjust_stock(adjustment, deps.orders, deps.now)
    logger().info(
        "stock adjusted",
        extra={
            "adjustment_id": adjustment.adjustment_id,
            "kind": adjustment.kind,
            "outcome": result.outcome.value,
        },
    )
    return json_response(
        {
            "status": "duplicate" if result.outcome.value == "duplicate" else "applied",
            "stock": stock_view(sku, deps.orders.get_sku_levels(sku)),
        }
    )
