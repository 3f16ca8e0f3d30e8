"""What people do to orders, beyond what platforms send: void (作废), address correction, and
the export. Pure; each handler audits what it did (api/order_actions.py).

- **Void**: an order cancelled by us, with a reason. Booked like a platform's cancellation
  (an event of its own, `void-<order id>`, through the same plan and transaction), so held
  stock is released exactly once and a second void is a duplicate.
- **Address correction**: only for an order held on the suspicious-address rule (an active
  `suspicious_address` anomaly). The new address is sealed like any buyer data, checked by
  the same address rules (still failing: refused, nothing written), written with the order's
  version condition and recorded as an event of its own; the anomaly is then resolved.
- **Export**: a CSV of the orders placed in a range of Beijing days (at most 31), per store,
  from the orders' `placed_day` index: ids, status, booking, currency and, for a caller
  holding `read_payments`, the amount. Never buyer data.
- **Amounts**: a caller without `read_payments` sees no amount (`without_amounts`): order
  views, timelines and exports.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.anomaly_rules import address_findings
from chalicelib.domain.bounds import MAX_ADDRESS, MAX_TEXT, check_free_text, check_time
from chalicelib.domain.errors import Conflict, InvalidPayload
from chalicelib.domain.model import (
    BookingPlan,
    Buyer,
    EventRecord,
    Order,
    OrderEvent,
    Outcome,
    PlatformStatus,
)
from chalicelib.domain.reconcile import LedgerRow
from chalicelib.domain.scrub import scrub_free_text

MIN_REASON = 10
MAX_EXPORT_DAYS = 31
AMOUNT_FIELDS = frozenset({"unit_price", "total", "amount", "subtotal", "price", "amounts"})
SUSPICIOUS_ADDRESS = "suspicious_address"


def required_reason(body: Any, what: str) -> str:
    """`{"reason": "..."}` for `what` (a void, a correction): 10 to 500 characters, scrubbed
    of phones, ID numbers and emails before it is kept."""
    reason = body.get("reason") if isinstance(body, Mapping) else None
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
        raise InvalidPayload(
            f'say why ({what}): {{"reason": "<at least {MIN_REASON} characters>"}} '
            "(it is kept in the audit log)"
        )
    check_free_text(reason, "reason", MAX_TEXT)
    return scrub_free_text(reason.strip())


# ---- amounts -------------------------------------------------------------------------------


def without_amounts(view: Any) -> Any:
    """`view` (an order view, a timeline, export rows as dicts) with every amount field
    removed, at any depth: what a caller without `read_payments` sees."""
    if isinstance(view, Mapping):
        return {k: without_amounts(v) for k, v in view.items() if k not in AMOUNT_FIELDS}
    if isinstance(view, list | tuple):
        return [without_amounts(item) for item in view]
    return view


# ---- void ----------------------------------------------------------------------------------


def void_event(order: Order, now: datetime) -> OrderEvent:
    """The event that voids `order`: a cancellation by OrderHub, booked like the platform's
    own (holds released), keyed so a second void is a duplicate."""
    if order.status in (PlatformStatus.CANCELLED, PlatformStatus.REFUNDED):
        raise Conflict(f"order {order.order_id} is {order.status.value} already")
    moment = max(now, order.updated_at + timedelta(microseconds=1))
    return OrderEvent(
        event_key=f"{order.platform}#{order.store}#void-{order.order_id}",
        platform=order.platform,
        store=order.store,
        order_id=order.order_id,
        event_type="cancelled",
        status=PlatformStatus.CANCELLED,
        updated_at=moment,
        updated_at_raw=f"voided in OrderHub at {now.isoformat()}",
        currency=order.currency,
        lines=order.lines,
        buyer=None,  # booking keeps the order's buyer
        received_at=now,
        region=order.region,
    )


# ---- address correction ----------------------------------------------------------------------


def parse_address(body: Any) -> str:
    address = body.get("address") if isinstance(body, Mapping) else None
    if not isinstance(address, str) or not address.strip():
        raise InvalidPayload('send the corrected address: {"address": "...", "reason": "..."}')
    return check_free_text(address, "address", MAX_ADDRESS).strip()


def check_correctable(order: Order, anomaly_status: str | None) -> None:
    """Only an order held on the suspicious-address rule may have its address corrected."""
    if anomaly_status not in ("open", "acknowledged"):
        raise Conflict(
            f"order {order.order_id} is not held on the suspicious-address rule (no open "
            "suspicious_address anomaly): its address is the platform's to change"
        )
    if order.buyer is None:
        raise Conflict(f"order {order.order_id} has no buyer data to correct")


def address_problems(address: str, forbid_po_box: bool, blocklist: Iterable[str]) -> list[str]:
    return address_findings(address, forbid_po_box, tuple(blocklist))


def corrected_plan(order: Order, buyer: Buyer, reason: str, now: datetime) -> BookingPlan:
    """The order with its corrected (sealed) buyer, as one conditional write with its own
    event record (`address-<id>`): nothing else moves."""
    record = EventRecord(
        f"{order.platform}#{order.store}#address-{uuid.uuid4().hex[:12]}",
        order.key,
        Outcome.BOOKED,
        reason,
        now,
        cause="address correction",
    )
    updated = replace(
        order, buyer=buyer, version=order.version + 1, last_event_key=record.event_key
    )
    return BookingPlan(record, updated, order.version)


# ---- export --------------------------------------------------------------------------------


class OrderDays(Protocol):
    def orders_of_day(self, platform: str, store: str, day: date) -> Iterator[LedgerRow]: ...


def parse_export_range(params: Mapping[str, str] | None) -> tuple[date, date]:
    """`from` and `to`: Beijing days, YYYY-MM-DD, at most 31 days, 2000-2100."""
    params = params or {}
    try:
        start = date.fromisoformat(str(params.get("from") or ""))
        end = date.fromisoformat(str(params.get("to") or params.get("from") or ""))
    except ValueError:
        raise InvalidPayload(
            "from and to must be days, YYYY-MM-DD (Beijing days, as reports count them)"
        ) from None
    for name, day in (("from", start), ("to", end)):
        check_time(datetime(day.year, day.month, day.day, tzinfo=UTC), name)
    if end < start:
        raise InvalidPayload("'from' must not be after 'to'")
    if (end - start).days + 1 > MAX_EXPORT_DAYS:
        raise InvalidPayload(f"an export covers at most {MAX_EXPORT_DAYS} days; split the range")
    return start, end


def export_columns(with_amounts: bool) -> list[str]:
    columns = ["platform", "store", "day", "order_id", "status", "booking", "currency"]
    return [*columns, "amount"] if with_amounts else columns


def export_rows(
    stores: Iterable[tuple[str, str]],
    start: date,
    end: date,
    order_days: OrderDays,
    with_amounts: bool,
) -> Iterator[list[str]]:
    """One row per order placed in [start, end] (Beijing days), store by store, day by day."""
    day_count = (end - start).days + 1
    for platform, store in stores:
        for offset in range(day_count):
            day = start + timedelta(days=offset)
            for row in order_days.orders_of_day(platform, store, day):
                cells = [
                    platform,
                    store,
                    day.isoformat(),
                    row.order_id,
                    row.status.value,
                    row.booking,
                    row.currency,
                ]
                yield [*cells, str(row.amount)] if with_amounts else cells


def to_csv(columns: list[str], rows: Iterable[list[str]]) -> tuple[str, int]:
    """The CSV text and its row count. Cells starting with = + - @ are prefixed with ' so a
    spreadsheet never runs them as formulas."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in row])
        count += 1
    return out.getvalue(), count
