"""Decide what one order event does to the order and to stock. Pure: reads nothing, writes nothing.

The rule: from the platform's status and lines compute the quantities the order should hold
(unpaid -> reserved, paid -> locked, cancelled -> nothing), compare with what it holds now, and
move only the difference. Applying the same event twice, or an older one after a newer one,
moves nothing, so stock changes exactly once per real change whatever the delivery order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from chalicelib.domain.model import (
    Booking,
    BookingPlan,
    EventRecord,
    Hold,
    Order,
    OrderEvent,
    OrderLine,
    Outcome,
    PlatformStatus,
    StockChange,
    StockLevel,
)

StockIndex = Mapping[tuple[str, str], StockLevel]  # (sku, warehouse) -> level

DEFAULT_PRIORITY = 1000


def merge_lines(lines: Iterable[OrderLine]) -> dict[str, int]:
    """Quantity per SKU: two lines of one SKU must not book it twice in one transaction."""
    merged: dict[str, int] = {}
    for line in lines:
        merged[line.sku] = merged.get(line.sku, 0) + line.quantity
    return merged


def target_holds(status: PlatformStatus, lines: Iterable[OrderLine]) -> dict[str, tuple[int, int]]:
    """(reserved, locked) per SKU that an order in this status should hold."""
    quantities = merge_lines(lines)
    if status is PlatformStatus.UNPAID:
        return {sku: (q, 0) for sku, q in quantities.items()}
    if status is PlatformStatus.PAID:
        return {sku: (0, q) for sku, q in quantities.items()}
    return {}


def _booking_for(status: PlatformStatus) -> Booking:
    return {
        PlatformStatus.UNPAID: Booking.RESERVED,
        PlatformStatus.PAID: Booking.LOCKED,
        PlatformStatus.CANCELLED: Booking.RELEASED,
    }[status]


def _is_stale(event: OrderEvent, order: Order) -> bool:
    """Platform time decides; at equal times the later lifecycle step wins."""
    return (event.updated_at, event.status.rank) <= (order.updated_at, order.status.rank)


def _choose_warehouse(
    needs: Mapping[str, int],
    stock: StockIndex,
    priorities: Mapping[str, int],
    preferred: str | None,
) -> str | None:
    """The one warehouse that can fill every need: the order's own first, then by priority."""
    warehouses = {wh for (_, wh) in stock}
    candidates = [
        wh
        for wh in warehouses
        if all((sku, wh) in stock and stock[(sku, wh)].available >= q for sku, q in needs.items())
    ]
    if not candidates:
        return None

    def rank(wh: str) -> tuple[bool, int, int, str]:
        total = sum(stock[(sku, wh)].available for sku in needs)
        return (wh != preferred, priorities.get(wh, DEFAULT_PRIORITY), -total, wh)

    return min(candidates, key=rank)


def _shortage_reason(needs: Mapping[str, int], stock: StockIndex) -> str:
    parts = []
    for sku, q in sorted(needs.items()):
        best = max((lvl.available for (s, _), lvl in stock.items() if s == sku), default=0)
        parts.append(f"{sku} needs {q}, at most {best} available in one warehouse")
    return "insufficient stock: " + "; ".join(parts)


def _new_order(event: OrderEvent, base: Order | None, now: datetime, **state: object) -> Order:
    fields: dict[str, object] = {
        "status": event.status,
        "updated_at": event.updated_at,
        "updated_at_raw": event.updated_at_raw,
        "currency": event.currency,
        "lines": event.lines,
        "buyer": event.buyer or (base.buyer if base else None),
        "version": (base.version if base else 0) + 1,
        "last_event_key": event.event_key,
        "reason": "",
    }
    fields.update(state)
    if base is not None:
        return base.with_changes(**fields)
    return Order(
        platform=event.platform,
        store=event.store,
        order_id=event.order_id,
        created_at=now,
        **fields,  # type: ignore[arg-type]
    )


def plan_event(
    event: OrderEvent,
    order: Order | None,
    stock: StockIndex,
    priorities: Mapping[str, int],
    now: datetime,
) -> BookingPlan:
    """The complete effect of `event` on `order` and stock, given current stock levels."""
    expected = order.version if order else 0

    def plan(
        outcome: Outcome,
        reason: str = "",
        new_order: Order | None = None,
        changes: tuple[StockChange, ...] = (),
    ) -> BookingPlan:
        record = EventRecord(event.event_key, event.order_key, outcome, reason, now)
        return BookingPlan(record, new_order, expected, changes)

    if order is not None:
        if _is_stale(event, order):
            return plan(
                Outcome.STALE,
                f"order already reflects {order.status.value} at {order.updated_at_raw}",
            )
        if order.status is PlatformStatus.CANCELLED:
            return plan(Outcome.IGNORED, "order is cancelled; later events change nothing")
        if order.booking is Booking.REJECTED_OUT_OF_STOCK:
            if event.status is PlatformStatus.CANCELLED:
                cancelled = _new_order(
                    event, order, now, booking=order.booking, reason=order.reason
                )
                return plan(Outcome.BOOKED, "", cancelled)
            return plan(Outcome.IGNORED, f"order was rejected earlier ({order.reason})")

    current = {h.sku: h for h in (order.holds if order else ())}
    target = target_holds(event.status, event.lines)

    known_skus = {sku for (sku, _) in stock}
    unknown = sorted(sku for sku in target if sku not in known_skus)
    if unknown:
        reason = "unknown SKU: " + ", ".join(unknown) + " (no stock record in any warehouse)"
        kept = order.holds if order else ()
        attention = _new_order(
            event, order, now, booking=Booking.NEEDS_ATTENTION, holds=kept, reason=reason
        )
        return plan(Outcome.NEEDS_ATTENTION, reason, attention)

    # New quantity for SKUs the order does not hold yet comes from one warehouse.
    new_needs = {
        sku: r + lk for sku, (r, lk) in target.items() if sku not in current and r + lk > 0
    }
    preferred = next(iter(current.values())).warehouse if current else None
    chosen = preferred
    if new_needs:
        chosen = _choose_warehouse(new_needs, stock, priorities, preferred)

    changes: list[StockChange] = []
    holds: list[Hold] = []
    shortage: dict[str, int] = {}
    for sku in sorted(set(target) | set(current)):
        reserved, locked = target.get(sku, (0, 0))
        held = current.get(sku)
        warehouse = held.warehouse if held else chosen
        if warehouse is None:
            shortage[sku] = reserved + locked
            continue
        d_reserved = reserved - (held.reserved if held else 0)
        d_locked = locked - (held.locked if held else 0)
        growth = d_reserved + d_locked
        level = stock.get((sku, warehouse))
        if growth > 0 and (level is None or level.available < growth):
            shortage[sku] = growth
            continue
        change = StockChange(sku, warehouse, reserved=d_reserved, locked=d_locked)
        if not change.is_empty():
            changes.append(change)
        if reserved or locked:
            holds.append(Hold(sku, warehouse, reserved, locked))

    if shortage:
        reason = _shortage_reason(shortage, stock)
        if order is None or not order.holds:
            rejected = _new_order(
                event, order, now, booking=Booking.REJECTED_OUT_OF_STOCK, holds=(), reason=reason
            )
            return plan(Outcome.REJECTED_OUT_OF_STOCK, reason, rejected)
        attention = _new_order(
            event, order, now, booking=Booking.NEEDS_ATTENTION, holds=order.holds, reason=reason
        )
        return plan(Outcome.NEEDS_ATTENTION, reason, attention)

    booked = _new_order(event, order, now, booking=_booking_for(event.status), holds=tuple(holds))
    return plan(Outcome.BOOKED, "", booked, tuple(changes))
