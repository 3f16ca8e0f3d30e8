"""Decide what one order event does to the order and to stock. Pure: reads nothing, writes nothing.

The rule: from the platform's status and lines compute the quantities the order should hold
(unpaid -> reserved, paid or shipped -> locked less what the WMS already shipped, cancelled or
refunded -> nothing), compare with what it holds now, and move only the difference. Applying
the same event twice, or an older one after a newer one, moves nothing, so stock changes
exactly once per real change whatever the delivery order.

Where new quantity must come from is allocation: one warehouse that can fill every new line
(the order's own first, then the buyer's region, then priority, then most available), or,
when the store allows it, several. A channel only sells what the SKU's holdback for
higher-priority channels leaves it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from chalicelib.domain.anomaly_rules import suspicious_address
from chalicelib.domain.model import (
    FINAL_STATUSES,
    Anomaly,
    Booking,
    BookingPlan,
    EventRecord,
    Hold,
    Order,
    OrderEvent,
    OrderLine,
    Outcome,
    PlatformStatus,
    Priority,
    StockChange,
    StockLevel,
)
from chalicelib.domain.ports import StoreRules, Warehouse

StockIndex = Mapping[tuple[str, str], StockLevel]  # (sku, warehouse) -> level

DEFAULT_PRIORITY = 1000
PlanMaker = Callable[..., BookingPlan]  # plan(outcome, reason, order, changes, anomalies)


@dataclass(frozen=True)
class BookingContext:
    """What planning needs besides the order and stock: warehouses, the store's rules, time."""

    now: datetime
    warehouses: Mapping[str, Warehouse] = field(default_factory=dict)
    rules: StoreRules = field(default_factory=StoreRules)


def merge_lines(lines: Iterable[OrderLine]) -> dict[str, int]:
    """Quantity per SKU: two lines of one SKU must not book it twice in one transaction."""
    merged: dict[str, int] = {}
    for line in lines:
        merged[line.sku] = merged.get(line.sku, 0) + line.quantity
    return merged


def target_holds(
    status: PlatformStatus, lines: Iterable[OrderLine], shipped: Mapping[str, int] | None = None
) -> dict[str, tuple[int, int]]:
    """(reserved, locked) per SKU that an order in this status should hold."""
    quantities = merge_lines(lines)
    gone = shipped or {}
    if status is PlatformStatus.UNPAID:
        return {sku: (q, 0) for sku, q in quantities.items()}
    if status in (PlatformStatus.PAID, PlatformStatus.SHIPPED):
        return {sku: (0, max(0, q - gone.get(sku, 0))) for sku, q in quantities.items()}
    return {}


def booking_for(status: PlatformStatus, holds: Iterable[Hold]) -> Booking:
    held = list(holds)
    if status in FINAL_STATUSES:
        return Booking.RELEASED
    if any(h.reserved for h in held):
        return Booking.RESERVED
    if any(h.locked for h in held):
        return Booking.LOCKED
    if any(h.shipped for h in held):
        return Booking.SHIPPED
    return Booking.LOCKED if status is not PlatformStatus.UNPAID else Booking.RESERVED


def _is_stale(event: OrderEvent, order: Order) -> bool:
    """Platform time decides; at equal times the later lifecycle step wins."""
    return (event.updated_at, event.status.rank) <= (order.updated_at, order.status.rank)


class _Allocator:
    """Chooses warehouses for new quantity, ranked: the order's own, region, priority, stock."""

    def __init__(
        self,
        stock: StockIndex,
        ctx: BookingContext,
        platform: str,
        region: str,
        preferred: set[str],
    ) -> None:
        self._stock = stock
        self._ctx = ctx
        self._platform = platform
        self._region = region
        self._preferred = preferred

    def sellable(self, sku: str, warehouse: str) -> int:
        level = self._stock.get((sku, warehouse))
        return level.sellable_by(self._platform) if level else 0

    def _rank(self, warehouse: str, skus: Iterable[str]) -> tuple[bool, bool, int, int, str]:
        info = self._ctx.warehouses.get(warehouse)
        region_match = bool(self._region) and info is not None and info.region == self._region
        priority = info.priority if info else DEFAULT_PRIORITY
        total = sum(self.sellable(sku, warehouse) for sku in skus)
        return (warehouse not in self._preferred, not region_match, priority, -total, warehouse)

    def ranked(self, skus: Iterable[str]) -> list[str]:
        wanted = list(skus)
        warehouses = {wh for (sku, wh) in self._stock if sku in wanted}
        return sorted(warehouses, key=lambda wh: self._rank(wh, wanted))

    def allocate(self, needs: Mapping[str, int]) -> dict[tuple[str, str], int] | None:
        """Quantity per (sku, warehouse) covering every need, or None if stock cannot."""
        ranked = self.ranked(needs)
        for wh in ranked:
            if all(self.sellable(sku, wh) >= q for sku, q in needs.items()):
                return {(sku, wh): q for sku, q in needs.items()}
        if not self._ctx.rules.allow_split:
            return None
        split: dict[tuple[str, str], int] = {}
        for sku, q in needs.items():
            remaining = q
            for wh in self.ranked([sku]):
                take = min(remaining, self.sellable(sku, wh))
                if take > 0:
                    split[(sku, wh)] = take
                    remaining -= take
                if remaining == 0:
                    break
            if remaining:
                return None
        return split


def _shortage_reason(needs: Mapping[str, int], allocator: _Allocator) -> str:
    parts = []
    for sku, q in sorted(needs.items()):
        best = max((allocator.sellable(sku, wh) for wh in allocator.ranked([sku])), default=0)
        parts.append(f"{sku} needs {q}, at most {best} sellable in one warehouse")
    return "insufficient stock: " + "; ".join(parts)


def _order_state(event: OrderEvent, base: Order | None, now: datetime, **state: object) -> Order:
    fields: dict[str, object] = {
        "status": event.status,
        "updated_at": event.updated_at,
        "updated_at_raw": event.updated_at_raw,
        "currency": event.currency,
        "lines": event.lines,
        "buyer": event.buyer or (base.buyer if base else None),
        "region": event.region or (base.region if base else ""),
        "version": (base.version if base else 0) + 1,
        "last_event_key": event.event_key,
        "reason": "",
        "paid_at": _paid_at(event, base),
    }
    fields.update(state)
    if base is not None:
        return base.with_changes(**fields)
    return Order(
        platform=event.platform,
        store=event.store,
        order_id=event.order_id,
        created_at=now,
        placed_at=event.updated_at,
        **fields,  # type: ignore[arg-type]
    )


def _paid_at(event: OrderEvent, base: Order | None) -> datetime | None:
    """When the order was paid (the platform's time of the first paid or later event): the
    paid-but-not-picked clock starts there (domain/anomaly_rules.py)."""
    if base is not None and base.paid_at is not None:
        return base.paid_at
    if event.status in (PlatformStatus.PAID, PlatformStatus.SHIPPED):
        return event.updated_at
    return None


def complete_from(event: OrderEvent, order: Order | None) -> OrderEvent:
    """A thin event (the platform sent ids and a status, no lines) takes its lines from the
    order OrderHub already holds, so a status change moves the right stock. Without an order
    it stays thin, and plan_event holds it for attention rather than guessing."""
    if event.complete or order is None or not order.lines:
        return event
    return replace(
        event, lines=order.lines, currency=event.currency or order.currency, complete=True
    )


def plan_event(
    event: OrderEvent, order: Order | None, stock: StockIndex, ctx: BookingContext
) -> BookingPlan:
    """The complete effect of `event` on `order` and stock, given current stock levels."""
    now = ctx.now
    expected = order.version if order else 0

    def plan(
        outcome: Outcome,
        reason: str = "",
        new_order: Order | None = None,
        changes: tuple[StockChange, ...] = (),
        anomalies: tuple[Anomaly, ...] = (),
    ) -> BookingPlan:
        record = EventRecord(event.event_key, event.order_key, outcome, reason, now)
        if new_order is not None:  # a new or changed shipping address is checked once
            rules = ctx.rules
            flagged = suspicious_address(
                order, new_order, rules.forbid_po_box, rules.address_blocklist
            )
            anomalies = (*anomalies, flagged) if flagged else anomalies
        return BookingPlan(record, new_order, expected, changes, anomalies)

    if order is not None:
        if _is_stale(event, order):
            return plan(
                Outcome.STALE,
                f"order already reflects {order.status.value} at {order.updated_at_raw}",
            )
        if order.status in FINAL_STATUSES:
            return plan(
                Outcome.IGNORED, f"order is {order.status.value}; later events change nothing"
            )
        if order.booking is Booking.EXPIRED and event.status is PlatformStatus.UNPAID:
            kept = _order_state(event, order, now, booking=Booking.EXPIRED, reason=order.reason)
            return plan(Outcome.IGNORED, "reservation expired; a payment books it again", kept)
        if order.booking is Booking.REJECTED_OUT_OF_STOCK and event.status not in FINAL_STATUSES:
            return plan(Outcome.IGNORED, f"order was rejected earlier ({order.reason})")

    event = complete_from(event, order)
    if not event.complete:
        reason = (
            "the platform sent the order's status without its lines; OrderHub books it "
            "when the order's details arrive"
        )
        return _hold_for_attention(event, order, now, "order_details_missing", reason, plan)

    holds = {(h.sku, h.warehouse): h for h in (order.holds if order else ())}
    shipped: dict[str, int] = {}
    for h in holds.values():
        shipped[h.sku] = shipped.get(h.sku, 0) + h.shipped
    target = target_holds(event.status, event.lines, shipped)

    known_skus = {sku for (sku, _) in stock}
    unknown = sorted(sku for sku in target if sku not in known_skus)
    if unknown:
        reason = "unknown SKU: " + ", ".join(unknown) + " (no stock record in any warehouse)"
        return _hold_for_attention(event, order, now, "unknown_sku", reason, plan)

    # Keep what is already held where it is (shrinking from the last warehouse); new quantity
    # is allocated.
    allocation: dict[tuple[str, str], int] = {}
    needs: dict[str, int] = {}
    for sku, (reserved, locked) in target.items():
        remaining = reserved + locked
        for (h_sku, wh), hold in holds.items():
            if h_sku == sku and remaining > 0 and hold.held > 0:
                keep = min(hold.held, remaining)
                allocation[(sku, wh)] = keep
                remaining -= keep
        if remaining > 0:
            needs[sku] = remaining
    allocator = _Allocator(
        stock,
        ctx,
        event.platform,
        event.region or (order.region if order else ""),
        {wh for (_, wh), h in holds.items() if h.held or h.shipped},
    )
    shortage: dict[str, int] = {}
    if needs:
        extra = allocator.allocate(needs)
        if extra is None:
            shortage = needs  # keep only what is held: releases still apply, growth does not
        else:
            for key, q in extra.items():
                allocation[key] = allocation.get(key, 0) + q
    changes, new_holds = _moves(allocation, holds, target, stock, event.platform)
    if shortage:
        return _plan_shortage(event, order, shortage, allocator, ctx, plan, changes, new_holds)

    booking = booking_for(event.status, new_holds)
    booked = _order_state(
        event,
        order,
        now,
        booking=booking,
        holds=new_holds,
        reserved_until=_reserved_until(order, new_holds, ctx),
    )
    return plan(Outcome.BOOKED, "", booked, changes)


def _hold_for_attention(
    event: OrderEvent,
    order: Order | None,
    now: datetime,
    rule: str,
    reason: str,
    plan: PlanMaker,
) -> BookingPlan:
    """Record the platform's word, keep whatever the order holds, open a P1 anomaly."""
    kept = _order_state(
        event,
        order,
        now,
        booking=Booking.NEEDS_ATTENTION,
        holds=order.holds if order else (),
        reason=reason,
    )
    anomaly = Anomaly(rule, event.order_key, Priority.P1, reason)
    return plan(Outcome.NEEDS_ATTENTION, reason, kept, anomalies=(anomaly,))


def _moves(
    allocation: Mapping[tuple[str, str], int],
    holds: Mapping[tuple[str, str], Hold],
    target: Mapping[str, tuple[int, int]],
    stock: StockIndex,
    platform: str,
) -> tuple[tuple[StockChange, ...], tuple[Hold, ...]]:
    """Stock changes and new holdings that take the order from `holds` to `allocation`, in the
    bucket its status asks for; growth is conditioned on stock (and channel holdback)."""
    changes: list[StockChange] = []
    new_holds: list[Hold] = []
    for key in sorted(set(allocation) | set(holds)):
        sku, wh = key
        amount = allocation.get(key, 0)
        reserved_part, _ = target.get(sku, (0, 0))
        new_reserved, new_locked = (amount, 0) if reserved_part else (0, amount)
        old = holds.get(key, Hold(sku, wh))
        d_reserved, d_locked = new_reserved - old.reserved, new_locked - old.locked
        growth = d_reserved + d_locked
        level = stock.get(key)
        holdback = level.holdback_for(platform) if level else 0
        change = StockChange(
            sku,
            wh,
            reserved=d_reserved,
            locked=d_locked,
            min_available=growth + holdback if growth > 0 else 0,
        )
        if not change.is_empty():
            changes.append(change)
        if new_reserved or new_locked or old.shipped:
            new_holds.append(Hold(sku, wh, new_reserved, new_locked, old.shipped))
    return tuple(changes), tuple(new_holds)


def _reserved_until(
    order: Order | None, holds: Iterable[Hold], ctx: BookingContext
) -> datetime | None:
    """When the reservation lapses: kept from when it started, None when nothing is reserved."""
    if not any(h.reserved for h in holds):
        return None
    already = order.reserved_until if order and order.booking is Booking.RESERVED else None
    return already or ctx.now + timedelta(minutes=ctx.rules.reservation_minutes)


def _plan_shortage(
    event: OrderEvent,
    order: Order | None,
    needs: Mapping[str, int],
    allocator: _Allocator,
    ctx: BookingContext,
    plan: PlanMaker,
    changes: tuple[StockChange, ...],
    kept_holds: tuple[Hold, ...],
) -> BookingPlan:
    """No stock for the new quantity. A new order is rejected (or backordered) with nothing
    held; an order that holds stock keeps what is still ordered, releases what is not, and
    waits for a person."""
    now = ctx.now
    reason = _shortage_reason(needs, allocator)
    if order is not None and order.held():
        kept = _order_state(
            event,
            order,
            now,
            booking=Booking.NEEDS_ATTENTION,
            holds=kept_holds,
            reason=reason,
            reserved_until=_reserved_until(order, kept_holds, ctx),
        )
        anomaly = Anomaly("out_of_stock", event.order_key, Priority.P0, reason)
        return plan(Outcome.NEEDS_ATTENTION, reason, kept, changes, anomalies=(anomaly,))
    held = order.holds if order else ()
    if ctx.rules.out_of_stock == "backorder":
        backordered = _order_state(
            event, order, now, booking=Booking.BACKORDERED, holds=held, reason=reason
        )
        anomaly = Anomaly("backorder", event.order_key, Priority.P1, reason)
        return plan(Outcome.BACKORDERED, reason, backordered, anomalies=(anomaly,))
    rejected = _order_state(
        event, order, now, booking=Booking.REJECTED_OUT_OF_STOCK, holds=held, reason=reason
    )
    anomaly = Anomaly("out_of_stock", event.order_key, Priority.P0, reason)
    return plan(Outcome.REJECTED_OUT_OF_STOCK, reason, rejected, anomalies=(anomaly,))
