"""Stock movements that do not come from a platform: WMS shipments, receipts and counts, and
reservations that expire. Pure planning, committed by the same repository transaction as order
events, so each is idempotent by its own id and lands in the ledger.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.booking import booking_for
from chalicelib.domain.bounds import (
    MAX_ID,
    MAX_SKU,
    MAX_WAREHOUSE,
    check_free_text,
    check_quantity,
    check_sku,
    check_text,
)
from chalicelib.domain.errors import InvalidPayload, NotFound, StockConflict
from chalicelib.domain.model import (
    Booking,
    BookingPlan,
    EventRecord,
    Hold,
    Order,
    Outcome,
    StockChange,
    StockLevel,
)
from chalicelib.domain.scrub import scrub_free_text


@dataclass(frozen=True)
class ShippedLine:
    sku: str
    quantity: int
    warehouse: str = ""  # empty: wherever the order holds it


@dataclass(frozen=True)
class OutboundConfirmation:
    """The WMS says these units left the warehouse for this order."""

    confirmation_id: str
    platform: str
    store: str
    order_id: str
    lines: tuple[ShippedLine, ...]

    @property
    def event_key(self) -> str:
        return f"wms#{self.confirmation_id}"


def plan_shipment(
    confirmation: OutboundConfirmation, order: Order | None, now: datetime
) -> BookingPlan:
    """Locked units become shipped: on_hand and locked go down together, available stays."""
    if order is None:
        raise NotFound(
            f"no order '{confirmation.order_id}' from {confirmation.platform}/"
            f"{confirmation.store}; the WMS may be ahead of the platform's webhook: retry later"
        )
    holds = {(h.sku, h.warehouse): h for h in order.holds}
    changes: list[StockChange] = []
    for line in confirmation.lines:
        remaining = line.quantity
        candidates = [
            key
            for key, h in holds.items()
            if h.sku == line.sku
            and h.locked > 0
            and (not line.warehouse or h.warehouse == line.warehouse)
        ]
        for key in candidates:
            hold = holds[key]
            take = min(hold.locked, remaining)
            holds[key] = Hold(
                hold.sku, hold.warehouse, hold.reserved, hold.locked - take, hold.shipped + take
            )
            changes.append(StockChange(hold.sku, hold.warehouse, locked=-take, on_hand=-take))
            remaining -= take
            if remaining == 0:
                break
        if remaining:
            where = f" in {line.warehouse}" if line.warehouse else ""
            raise StockConflict(
                f"order {confirmation.order_id} has {line.quantity - remaining} of {line.sku} "
                f"locked{where}, cannot ship {line.quantity}: ship only paid, booked units"
            )
    new_holds = tuple(holds.values())
    shipped = order.with_changes(
        holds=new_holds,
        booking=booking_for(order.status, new_holds),
        version=order.version + 1,
        last_event_key=confirmation.event_key,
    )
    record = EventRecord(
        confirmation.event_key, order.key, Outcome.BOOKED, "", now, cause="wms shipment"
    )
    return BookingPlan(record, shipped, order.version, _merged(changes))


@dataclass(frozen=True)
class Adjustment:
    """A receipt (units arrived), a return (units came back) or a count (what is on the shelf)."""

    adjustment_id: str
    sku: str
    warehouse: str
    kind: str  # receipt | return | count
    quantity: int  # received units, or the counted on_hand
    reason: str

    @property
    def event_key(self) -> str:
        return f"adjustment#{self.adjustment_id}"


ADJUSTMENT_KINDS = ("receipt", "return", "count")


def plan_adjustment(adjustment: Adjustment, level: StockLevel | None, now: datetime) -> BookingPlan:
    """on_hand moves, available with it; never below what is locked and reserved."""
    if adjustment.kind not in ADJUSTMENT_KINDS:
        raise InvalidPayload(f"kind must be one of: {', '.join(ADJUSTMENT_KINDS)}")
    if not adjustment.reason.strip():
        raise InvalidPayload("reason is required: say why stock changes (audit trail)")
    if adjustment.kind == "count":
        if adjustment.quantity < 0:
            raise InvalidPayload("a counted quantity cannot be negative")
        current = level.on_hand if level else 0
        committed = (level.locked + level.reserved) if level else 0
        if adjustment.quantity < committed:
            raise StockConflict(
                f"count {adjustment.quantity} for {adjustment.sku} in {adjustment.warehouse} is "
                f"below the {committed} units locked and reserved; ship or release orders first"
            )
        change = StockChange(
            adjustment.sku,
            adjustment.warehouse,
            on_hand=adjustment.quantity - current,
            expect_on_hand=current,
        )
    else:
        if adjustment.quantity <= 0:
            raise InvalidPayload("quantity must be a positive integer")
        change = StockChange(adjustment.sku, adjustment.warehouse, on_hand=adjustment.quantity)
    record = EventRecord(
        adjustment.event_key,
        f"stock#{adjustment.sku}#{adjustment.warehouse}",
        Outcome.BOOKED,
        adjustment.reason,
        now,
        cause=f"adjustment: {adjustment.kind}",
    )
    return BookingPlan(
        record, None, 0, (change,) if not change.is_empty() else (), creates_stock=level is None
    )


def plan_expiry(order: Order, now: datetime) -> BookingPlan | None:
    """Release an unpaid order's reservation once its time is up; None if not due."""
    if order.booking is not Booking.RESERVED or order.reserved_until is None:
        return None
    if order.reserved_until > now:
        return None
    changes = [
        StockChange(h.sku, h.warehouse, reserved=-h.reserved) for h in order.holds if h.reserved
    ]
    holds = tuple(
        Hold(h.sku, h.warehouse, 0, h.locked, h.shipped)
        for h in order.holds
        if h.locked or h.shipped
    )
    expired = order.with_changes(
        holds=holds,
        booking=Booking.EXPIRED,
        reserved_until=None,
        reason=f"unpaid past {order.reserved_until.isoformat()}: reservation released",
        version=order.version + 1,
        last_event_key=f"expiry#{order.key}#v{order.version}",
    )
    record = EventRecord(
        expired.last_event_key,
        order.key,
        Outcome.BOOKED,
        expired.reason,
        now,
        cause="reservation expired",
    )
    return BookingPlan(record, expired, order.version, _merged(changes))


def _merged(changes: Sequence[StockChange]) -> tuple[StockChange, ...]:
    """One change per stock item: a transaction may touch an item only once."""
    merged: dict[tuple[str, str], StockChange] = {}
    for c in changes:
        key = (c.sku, c.warehouse)
        prior = merged.get(key)
        merged[key] = (
            c
            if prior is None
            else StockChange(
                c.sku,
                c.warehouse,
                reserved=prior.reserved + c.reserved,
                locked=prior.locked + c.locked,
                on_hand=prior.on_hand + c.on_hand,
            )
        )
    return tuple(merged.values())


def ledger_balances(
    records: Sequence[Mapping[str, object]],
) -> dict[tuple[str, str], dict[str, int]]:
    """Sum ledger movements per (sku, warehouse): what every balance must equal."""
    sums: dict[tuple[str, str], dict[str, int]] = {}
    for record in records:
        for move in record.get("movements", ()):  # type: ignore[attr-defined]
            key = (move["sku"], move["warehouse"])
            bucket = sums.setdefault(
                key, {"on_hand": 0, "locked": 0, "reserved": 0, "available": 0}
            )
            for name in bucket:
                bucket[name] += int(move[name])
    return sums


@dataclass(frozen=True)
class Drift:
    sku: str
    warehouse: str
    bucket: str
    stored: int
    expected: int
    source: str  # "ledger" or "open orders"


def audit_stock(
    levels: Sequence[StockLevel],
    ledger: Mapping[tuple[str, str], Mapping[str, int]],
    open_orders: Sequence[Order],
) -> list[Drift]:
    """Every balance against the ledger's sums, and locked/reserved against what open orders
    hold. Any difference is drift: a bug or a write that bypassed OrderHub."""
    held: dict[tuple[str, str], dict[str, int]] = {}
    for order in open_orders:
        for h in order.holds:
            sums_held = held.setdefault((h.sku, h.warehouse), {"locked": 0, "reserved": 0})
            sums_held["locked"] += h.locked
            sums_held["reserved"] += h.reserved
    drifts: list[Drift] = []
    keys = {(lvl.sku, lvl.warehouse) for lvl in levels} | set(ledger) | set(held)
    by_key = {(lvl.sku, lvl.warehouse): lvl for lvl in levels}
    for key in sorted(keys):
        level = by_key.get(key) or StockLevel.new(key[0], key[1], 0)
        sums = ledger.get(key, {})
        for name in ("on_hand", "locked", "reserved", "available"):
            stored, expected = getattr(level, name), int(sums.get(name, 0))
            if stored != expected:
                drifts.append(Drift(key[0], key[1], name, stored, expected, "ledger"))
        for name, by_orders in held.get(key, {"locked": 0, "reserved": 0}).items():
            stored = getattr(level, name)
            if stored != by_orders:
                drifts.append(Drift(key[0], key[1], name, stored, by_orders, "open orders"))
    return drifts


def _text(
    payload: Mapping[str, object], key: str, required: bool = True, max_length: int = MAX_ID
) -> str:
    value = payload.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InvalidPayload(f"{key} must be a non-empty string")
    return check_text(value, key, max_length).strip()


def _reason(payload: Mapping[str, object]) -> str:
    value = payload.get("reason")
    if not isinstance(value, str) or not value.strip():
        raise InvalidPayload("reason must be a non-empty string")
    return scrub_free_text(check_free_text(value, "reason").strip())


def _count(payload: Mapping[str, object], key: str, minimum: int) -> int:
    return check_quantity(payload.get(key), key, minimum)


def check_known_warehouse(warehouse: str, known: Collection[str]) -> str:
    """Stock goes only into a warehouse the catalog lists (a receipt into "steal" would
    otherwise create sellable stock nowhere)."""
    if warehouse not in known:
        listed = ", ".join(sorted(known)[:20]) or "none configured"
        raise InvalidPayload(f"warehouse '{warehouse}' is not a known warehouse ({listed})")
    return warehouse


def parse_outbound_confirmation(payload: object) -> OutboundConfirmation:
    """The WMS's JSON: {confirmation_id, platform, store, order_id, lines: [{sku, quantity,
    warehouse?}]}; errors name the field."""
    if not isinstance(payload, dict):
        raise InvalidPayload("body must be a JSON object")
    raw_lines = payload.get("lines")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise InvalidPayload("lines must list at least one shipped line")
    lines = []
    for i, raw in enumerate(raw_lines):
        if not isinstance(raw, dict):
            raise InvalidPayload(f"lines[{i}] must be an object")
        try:
            lines.append(
                ShippedLine(
                    _text(raw, "sku", max_length=MAX_SKU),
                    _count(raw, "quantity", 1),
                    _text(raw, "warehouse", required=False, max_length=MAX_WAREHOUSE),
                )
            )
        except InvalidPayload as exc:
            raise InvalidPayload(f"lines[{i}].{exc.message}") from None
    return OutboundConfirmation(
        _text(payload, "confirmation_id"),
        _text(payload, "platform"),
        _text(payload, "store"),
        _text(payload, "order_id"),
        tuple(lines),
    )


def parse_adjustment(sku: str, payload: object) -> Adjustment:
    """{adjustment_id, warehouse, kind: receipt|return|count, quantity, reason}."""
    if not isinstance(payload, dict):
        raise InvalidPayload("body must be a JSON object")
    kind = _text(payload, "kind")
    if kind not in ADJUSTMENT_KINDS:
        raise InvalidPayload(f"kind must be one of: {', '.join(ADJUSTMENT_KINDS)}")
    quantity = _count(payload, "quantity", 0 if kind == "count" else 1)
    return Adjustment(
        _text(payload, "adjustment_id"),
        check_sku(sku, "sku"),
        _text(payload, "warehouse", max_length=MAX_WAREHOUSE),
        kind,
        quantity,
        _reason(payload),
    )
