"""Committing a plan too large for one DynamoDB transaction (100 items) all or nothing.

A plan needs one item for its event record, one for the order, one per stock item and one per
anomaly. A larger one is committed in parts, the event record serving as a lock:

1. Part 0: the event record, marked `staging`, with the first stock changes (and their
   conditions, as in a single commit). A second delivery of the same event now fails its own
   record's condition, so two deliveries can never both apply stock.
2. Parts 1..n: each its own record `<event>#part<i>` carrying its movements (the ledger stays
   exact) and its stock changes.
3. Final: the event record's outcome (conditioned on still `staging`), the order, the anomalies.
If a part or the final commit fails, the applied parts are rolled back newest first — each in
one transaction that deletes its record and reverses its movements — and the error goes to the
caller's re-plan loop, as if a single transaction had been cancelled. A crash leaves a
`staging` record; a delivery that finds one older than STAGING_TIMEOUT rolls it back and
re-plans, and one that finds a fresh one retries later. While parts are applied, other orders
see that stock as taken, as they would a reservation.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from chalicelib.domain.errors import AlreadyProcessed, ConcurrentUpdate, TransientFailure
from chalicelib.domain.model import BookingPlan, EventRecord, Outcome, StockChange
from chalicelib.domain.ports import OrderRepository

MAX_TRANSACTION_ITEMS = 100
PART_SIZE = 90
MAX_PARTS = 8  # 720 stock items: above the 500 lines a delivery may carry
STAGING_TIMEOUT = timedelta(seconds=30)  # three times the processor's Lambda timeout


def items_needed(plan: BookingPlan) -> int:
    extra = (plan.order is not None) + (plan.trail is not None)
    return 1 + extra + len(plan.stock_changes) + len(plan.anomalies)


def part_key(event_key: str, index: int) -> str:
    return event_key if index == 0 else f"{event_key}#part{index}"


def commit_plan(repository: OrderRepository, plan: BookingPlan) -> None:
    """Commit `plan` all or nothing, in one transaction when it fits, in parts when not."""
    if items_needed(plan) <= MAX_TRANSACTION_ITEMS:
        repository.commit(plan)
        return
    changes = plan.stock_changes
    parts = [changes[i : i + PART_SIZE] for i in range(0, len(changes), PART_SIZE)]
    if len(parts) > MAX_PARTS:
        raise ValueError(f"{len(changes)} stock items exceed {MAX_PARTS * PART_SIZE} per plan")
    first = plan.record
    applied: list[tuple[str, tuple[StockChange, ...]]] = []
    try:
        for index, part in enumerate(parts):
            key = part_key(first.event_key, index)
            record = EventRecord(
                key,
                first.order_key,
                Outcome.STAGING,
                f"part {index + 1} of {len(parts)}",
                first.processed_at,
                cause=first.cause,
            )
            repository.commit(
                BookingPlan(record, None, 0, tuple(part), creates_stock=plan.creates_stock)
            )
            applied.append((key, tuple(part)))
        repository.commit(replace(plan, stock_changes=(), staged_final=True))
    except (ConcurrentUpdate, AlreadyProcessed):
        for key, part in reversed(applied):
            repository.roll_back_part(key, reverse(part))
        raise


def reverse(changes: tuple[StockChange, ...]) -> tuple[StockChange, ...]:
    return tuple(
        StockChange(c.sku, c.warehouse, reserved=-c.reserved, locked=-c.locked, on_hand=-c.on_hand)
        for c in changes
    )


def resolve_existing(repository: OrderRepository, event_key: str, now: datetime) -> None:
    """The event's record exists. Return if it is final (a duplicate); roll back an abandoned
    staged commit and raise ConcurrentUpdate (re-plan); raise TransientFailure if another
    delivery is staging it right now."""
    record = repository.get_event_outcome(event_key)
    if record is None:
        raise ConcurrentUpdate("event record vanished; re-plan")
    if record["outcome"] != Outcome.STAGING.value:
        return
    started = datetime.fromisoformat(str(record["processed_at"]))
    if now - started < STAGING_TIMEOUT:
        raise TransientFailure(f"another delivery is booking {event_key}; retry later")
    for index in reversed(range(MAX_PARTS)):
        key = part_key(event_key, index)
        part = repository.get_event_outcome(key)
        if part is None or part["outcome"] != Outcome.STAGING.value:
            continue
        moved = tuple(
            StockChange(
                m["sku"],
                m["warehouse"],
                reserved=int(m["reserved"]),
                locked=int(m["locked"]),
                on_hand=int(m["on_hand"]),
            )
            for m in part["movements"]
        )
        repository.roll_back_part(key, reverse(moved))
    raise ConcurrentUpdate(f"rolled back an abandoned staged commit of {event_key}; re-plan")
