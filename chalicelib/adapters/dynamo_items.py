"""Order and stock items <-> the domain's `Order` and `StockLevel`: what an order item holds
(its index keys included: `_search_keys` for the console's, `index_value` for the sparse
ones) and how a stock item reads. Kept apart from the repository (adapters/dynamo.py), which
re-exports these for the backfill, the benches and the tests.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.adapters.dynamo_models import Models, index_value
from chalicelib.domain.anomalies import time_key
from chalicelib.domain.anomaly_rules import awaiting_shipment
from chalicelib.domain.index_shards import shard_value
from chalicelib.domain.model import (
    Booking,
    Buyer,
    Hold,
    Order,
    OrderLine,
    PlatformStatus,
    StockLevel,
)
from chalicelib.domain.order_search import (
    created_day,
    created_sort_key,
    id_bucket,
    platform_day,
    platform_status,
    store_ref,
)
from chalicelib.domain.reconcile import order_amount, placed_day_of


def _order_from_item(item: Any) -> Order:
    return Order(
        platform=item.platform,
        store=item.store,
        order_id=item.order_id,
        status=PlatformStatus(item.status),
        booking=Booking(item.booking),
        updated_at=item.updated_at,
        updated_at_raw=item.updated_at_raw,
        currency=item.currency,
        lines=tuple(OrderLine.from_dict(x) for x in json.loads(item.lines)),
        buyer=Buyer.from_dict(json.loads(item.buyer)) if item.buyer else None,
        holds=tuple(Hold.from_dict(x) for x in json.loads(item.holds)),
        reason=item.reason or "",
        version=int(item.version),
        last_event_key=item.last_event_key or "",
        created_at=item.created_at,
        reserved_until=item.reserved_until,
        region=item.region or "",
        placed_at=item.placed_at,
        paid_at=item.paid_at,
    )


def _item_from_order(models: Models, order: Order) -> Any:
    waiting = awaiting_shipment(order)
    reserving = order.reserved_until is not None and any(h.reserved for h in order.holds)
    return models.orders(
        order.key,
        platform=order.platform,
        store=order.store,
        order_id=order.order_id,
        status=order.status.value,
        booking=order.booking.value,
        updated_at=order.updated_at,
        updated_at_raw=order.updated_at_raw,
        currency=order.currency,
        lines=json.dumps([line.to_dict() for line in order.lines]),
        holds=json.dumps([hold.to_dict() for hold in order.holds]),
        buyer=json.dumps(order.buyer.to_dict()) if order.buyer else None,
        region=order.region,
        reason=order.reason,
        version=order.version,
        last_event_key=order.last_event_key,
        created_at=order.created_at,
        reserved_until=order.reserved_until,
        reservation_partition=index_value("reservations", order.key, models.shards)
        if reserving
        else None,
        reserved_until_key=order.reserved_until.isoformat() if reserving else None,  # type: ignore[union-attr]
        holding=index_value("open_orders", order.key, models.shards) if order.held() else None,
        paid_at=order.paid_at,
        # write-sharded like the other sparse indexes: `paid#k`, `shipped#k`
        awaiting=shard_value(waiting[0], order.key, models.shards) if waiting else None,
        awaiting_since=time_key(waiting[1]) if waiting else None,
        placed_at=order.placed_at,
        placed_day=_placed_day(order),
        amount=str(order_amount(order.lines)),
        **_search_keys(order),
    )


def _search_keys(order: Order) -> dict[str, Any]:
    """The console's index keys: store, placed time and the buyer's phone blind index."""
    placed = order.placed_at or order.created_at or order.updated_at
    phone_index = order.buyer.phone_index if order.buyer else ""
    return {
        "store_ref": store_ref(order.platform, order.store),
        "created_sort": created_sort_key(placed, order.order_id),
        "buyer_index": phone_index or None,
        "created_day": created_day(placed),
        "id_bucket": id_bucket(order.order_id) or None,
        "platform_day": platform_day(order.platform, placed),
        "platform_status": platform_status(order.platform, order.status.value),
    }


def _placed_day(order: Order) -> str | None:
    """The reconciliation's index key, from the first event's time (or, for orders written
    before that was kept, the first booking)."""
    placed = order.placed_at or order.created_at
    return placed_day_of(order.platform, order.store, placed) if placed else None


def _level_from_item(item: Any) -> StockLevel:
    return StockLevel(
        sku=item.sku,
        warehouse=item.warehouse,
        on_hand=int(item.on_hand or 0),
        locked=int(item.locked or 0),
        reserved=int(item.reserved or 0),
        available=int(item.available or 0),
        safety_stock=int(item.safety_stock or 0),
        holdback=int(item.holdback or 0),
        holdback_channels=tuple(item.holdback_channels or ()),
    )
