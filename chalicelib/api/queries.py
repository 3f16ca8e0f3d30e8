"""Read endpoints: one order, one SKU's stock. Both need an API key (see http middleware)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.api.access import principal_of
from chalicelib.api.http import api_errors, json_response
from chalicelib.deps import container
from chalicelib.domain.errors import NotFound
from chalicelib.domain.model import Order, StockLevel, order_key
from chalicelib.domain.order_actions import without_amounts
from chalicelib.domain.permissions import Permission, permissions_of
from chalicelib.domain.privacy import buyer_view

bp = Blueprint(__name__)


def order_view(order: Order) -> dict[str, Any]:
    total = sum((line.unit_price * line.quantity for line in order.lines), start=0)
    return {
        "platform": order.platform,
        "store": order.store,
        "order_id": order.order_id,
        "status": order.status.value,
        "booking": order.booking.value,
        "reason": order.reason,
        "updated_at": order.updated_at.isoformat(),
        "updated_at_raw": order.updated_at_raw,
        "currency": order.currency,
        "total": str(total),
        "lines": [line.to_dict() for line in order.lines],
        "holds": [hold.to_dict() for hold in order.holds],
        # masked only (stored beside the sealed plaintext): POST .../personal-data opens it
        "buyer": buyer_view(order.buyer),
        "version": order.version,
        "last_event_key": order.last_event_key,
        "created_at": order.created_at.isoformat() if order.created_at else None,
    }


def may_see_amounts(request: Any) -> bool:
    """Whether the caller's role holds `read_payments` (amounts, totals, unit prices)."""
    return Permission.READ_PAYMENTS in permissions_of(principal_of(request).role)


def shown_order(order: Order, request: Any) -> dict[str, Any]:
    """The order view as the caller may see it: amounts only with `read_payments`."""
    view = order_view(order)
    return view if may_see_amounts(request) else dict(without_amounts(view))


def stock_view(sku: str, levels: list[StockLevel]) -> dict[str, Any]:
    buckets = ("on_hand", "locked", "reserved", "available")
    rows = [
        {
            "warehouse": lvl.warehouse,
            **{b: getattr(lvl, b) for b in buckets},
            "safety_stock": lvl.safety_stock,
        }
        for lvl in sorted(levels, key=lambda lvl: lvl.warehouse)
    ]
    total = {b: sum(getattr(lvl, b) for lvl in levels) for b in buckets}
    return {"sku": sku, "warehouses": rows, "total": total}


@bp.route("/orders/{platform}/{store}/{order_id}", methods=["GET"])
@api_errors
def handle_get_order(platform: str, store: str, order_id: str) -> Any:
    order = container().orders.get_order(order_key(platform, store, order_id))
    if order is None:
        raise NotFound(
            f"no order '{order_id}' from {platform}/{store} has been processed; if its webhook "
            "was accepted moments ago it may still be queued"
        )
    return json_response(shown_order(order, bp.current_request))


@bp.route("/inventory/{sku}", methods=["GET"])
@api_errors
def handle_get_inventory(sku: str) -> Any:
    levels = container().orders.get_sku_levels(sku)
    if not levels:
        raise NotFound(f"SKU '{sku}' has no stock record in any warehouse")
    return json_response(stock_view(sku, levels))
