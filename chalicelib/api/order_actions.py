"""Void, address correction and export (domain/order_actions.py); each audited.

- `POST /orders/{platform}/{store}/{order_id}/void` `{"reason"}` (`void_orders`: ops, admin):
  the order cancelled by us, its held stock released; `order.void`.
- `POST /orders/{platform}/{store}/{order_id}/address` `{"address", "reason"}` (`edit_address`:
  cs, admin): only for an order held on the suspicious-address rule; the anomaly is resolved;
  `order.edit_address` (masked before/after, never the address).
- `GET /orders/export?from=YYYY-MM-DD&to=YYYY-MM-DD[&store=platform/store]` (`export`: finance,
  admin): CSV, amounts only for `read_payments`; `orders.export` (range, stores, rows).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from chalice import Blueprint, Response

from chalicelib.adapters.deferred import deferred_imports
from chalicelib.api.access import audit, principal_of
from chalicelib.api.http import api_errors, json_response, read_json
from chalicelib.api.queries import may_see_amounts, shown_order
from chalicelib.deps import Container, container
from chalicelib.domain.anomalies import AnomalyRecord
from chalicelib.domain.audit import Action
from chalicelib.domain.errors import InvalidPayload, NotFound
from chalicelib.domain.model import Order, order_key
from chalicelib.domain.order_actions import (
    SUSPICIOUS_ADDRESS,
    check_correctable,
    corrected_plan,
    export_columns,
    export_rows,
    parse_address,
    parse_export_range,
    required_reason,
    to_csv,
    void_event,
)
from chalicelib.domain.personal_data import BUYER_FIELDS, open_buyer, sealed_buyer
from chalicelib.domain.ports import StoreRules
from chalicelib.domain.privacy import buyer_view

if TYPE_CHECKING:
    from chalicelib.domain.booking import BookingContext
    from chalicelib.domain.processing import process_order_event
    from chalicelib.domain.staged import commit_plan
else:  # booking's modules come with the first action that books (adapters/deferred.py)
    globals().update(deferred_imports(__file__, "chalicelib.domain"))

bp = Blueprint(__name__)


def _order(deps: Container, platform: str, store: str, order_id: str) -> Order:
    order = deps.orders.get_order(order_key(platform, store, order_id))
    if order is None:
        raise NotFound(f"no order '{order_id}' from {platform}/{store} has been processed")
    return order


@bp.route("/orders/{platform}/{store}/{order_id}/void", methods=["POST"])
@api_errors
def handle_void_order(platform: str, store: str, order_id: str) -> Any:
    request = bp.current_request
    reason = required_reason(read_json(request.raw_body), "voiding an order")
    deps = container()
    before = _order(deps, platform, store, order_id)
    found = deps.catalog.get_store(platform, store)
    rules = found.rules if found else StoreRules()
    event = void_event(before, deps.now())

    def context() -> BookingContext:
        return BookingContext(deps.now(), deps.warehouses(), rules)

    result = process_order_event(event, deps.orders, context)
    after = _order(deps, platform, store, order_id)
    if result.outcome.value != "duplicate":
        audit(
            Action.ORDER_VOID,
            f"order/{before.key}",
            before={"status": before.status.value, "booking": before.booking.value},
            after={
                "status": after.status.value,
                "booking": after.booking.value,
                "reason": reason,
                "released": [h.to_dict() for h in before.holds],
            },
            request=request,
        )
    return json_response(shown_order(after, request))


@bp.route("/orders/{platform}/{store}/{order_id}/address", methods=["POST"])
@api_errors
def handle_correct_address(platform: str, store: str, order_id: str) -> Any:
    request = bp.current_request
    body = read_json(request.raw_body)
    address = parse_address(body)
    reason = required_reason(body, "correcting an address")
    deps = container()
    order = _order(deps, platform, store, order_id)
    anomaly_key = f"{SUSPICIOUS_ADDRESS}#{order.key}"
    held: AnomalyRecord | None = deps.anomalies.get(anomaly_key)
    check_correctable(order, held.status if held else None)
    found = deps.catalog.get_store(platform, store)
    rules = found.rules if found else StoreRules()
    assert order.buyer is not None  # check_correctable refused an order without one
    corrected = replace(open_buyer(order.buyer, order.key, deps.personal_data), address=address)
    fields = {n: getattr(corrected, n) for n in BUYER_FIELDS if getattr(corrected, n)}
    buyer = sealed_buyer(corrected, deps.personal_data.seal(order.key, fields), rules)
    if buyer.address_findings:
        raise InvalidPayload(
            "the corrected address still fails the address checks: "
            + ", ".join(buyer.address_findings)
        )
    commit_plan(deps.orders, corrected_plan(order, buyer, reason, deps.now()))
    if held is not None:
        deps.anomalies.resolve(
            held, principal_of(request).owner, f"address corrected: {reason}", deps.now()
        )
    audit(
        Action.ORDER_EDIT_ADDRESS,
        f"order/{order.key}",
        before={"address": (buyer_view(order.buyer) or {}).get("address")},  # masked
        after={"address": (buyer_view(buyer) or {}).get("address"), "reason": reason},
        request=request,
    )
    return json_response(shown_order(_order(deps, platform, store, order_id), request))


@bp.route("/orders/export", methods=["GET"])
@api_errors
def handle_export_orders() -> Any:
    request = bp.current_request
    query: dict[str, str] = dict(request.query_params or {})
    start, end = parse_export_range(query)
    deps = container()
    stores = [(s.platform, s.store_id) for s in deps.catalog.list_stores()]
    wanted = query.get("store")
    if wanted:
        stores = [s for s in stores if wanted in (s[1], f"{s[0]}/{s[1]}")]
        if not stores:
            raise NotFound(f"no store '{wanted}' (give platform/store)")
    amounts = may_see_amounts(request)
    text, count = to_csv(
        export_columns(amounts), export_rows(stores, start, end, deps.order_days, amounts)
    )
    audit(
        Action.ORDERS_EXPORT,
        f"orders/{start.isoformat()}..{end.isoformat()}",
        after={
            "from": start.isoformat(),
            "to": end.isoformat(),
            "stores": [f"{p}/{s}" for p, s in stores],
            "rows": count,
            "amounts": amounts,
        },
        request=request,
    )
    name = f"orders-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        body=text,
        status_code=200,
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
