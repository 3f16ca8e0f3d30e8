"""Apply plans: read, plan, commit; re-plan when another writer won in between."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.domain.booking import BookingContext, complete_from, merge_lines, plan_event
from chalicelib.domain.errors import AlreadyProcessed, ConcurrentUpdate, TransientFailure
from chalicelib.domain.model import (
    BookingPlan,
    OrderEvent,
    OrderLine,
    Outcome,
    TrailEntry,
    order_key,
)
from chalicelib.domain.ports import OrderRepository
from chalicelib.domain.staged import commit_plan, resolve_existing
from chalicelib.domain.stock_ops import (
    Adjustment,
    OutboundConfirmation,
    plan_adjustment,
    plan_expiry,
    plan_shipment,
)

MAX_ATTEMPTS = 5
UNMAPPED_PREFIX = "unmapped:"


@dataclass(frozen=True)
class ProcessResult:
    outcome: Outcome
    reason: str
    attempts: int
    plan: BookingPlan | None = None


def commit_with_retry(
    repository: OrderRepository, make_plan: Callable[[], BookingPlan | None], subject: str
) -> ProcessResult:
    """Commit the plan `make_plan` builds from fresh reads, exactly once.

    A conflict means another event for the same order or stock item committed between our
    read and our write; re-reading and re-planning is then always correct. If conflicts
    outlast MAX_ATTEMPTS the caller retries later (TransientFailure).
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        plan = make_plan()
        if plan is None:
            return ProcessResult(Outcome.IGNORED, "nothing to do", attempt)
        try:
            commit_plan(repository, plan)
        except AlreadyProcessed:
            try:
                resolve_existing(repository, plan.record.event_key, plan.record.processed_at)
            except ConcurrentUpdate:
                continue
            return ProcessResult(Outcome.DUPLICATE, "processed before", attempt)
        except ConcurrentUpdate:
            continue
        return ProcessResult(plan.outcome, plan.record.reason, attempt, plan)
    raise TransientFailure(f"{subject} kept changing under us; retry later")


def map_skus(event: OrderEvent, resolve: Callable[[str], str | None] | None) -> OrderEvent:
    """Channel SKUs to ours. An unmapped one is marked so it can never match a real SKU and
    the order is held for attention instead of booking the wrong item."""
    if resolve is None:
        return event
    lines = []
    for line in event.lines:
        ours = resolve(line.sku)
        lines.append(
            OrderLine(ours or f"{UNMAPPED_PREFIX}{line.sku}", line.quantity, line.unit_price)
        )
    return replace(event, lines=tuple(lines))


def process_order_event(
    event: OrderEvent,
    repository: OrderRepository,
    context: Callable[[], BookingContext],
    resolve_sku: Callable[[str], str | None] | None = None,
    trail: TrailEntry | None = None,
) -> ProcessResult:
    """Book `event` exactly once; with `trail`, its trail (receipt, this attempt, the final
    outcome) is written in the booking's transaction."""
    mapped = map_skus(event, resolve_sku)

    def make_plan() -> BookingPlan:
        ctx = context()
        skus = list(merge_lines(mapped.lines))
        if mapped.complete and skus and ctx.warehouses:
            # the order and its SKUs' stock in every warehouse: one consistent read
            order, stock = repository.read_booking(mapped.order_key, skus, list(ctx.warehouses))
            plan = plan_event(mapped, order, stock, ctx)
        else:
            order = repository.get_order(mapped.order_key)
            full = complete_from(mapped, order)  # a thin event's SKUs are the order's
            skus = list(merge_lines(full.lines))
            stock = repository.get_stock(skus) if skus else {}
            plan = plan_event(full, order, stock, ctx)
        return replace(plan, trail=trail) if trail is not None else plan

    return commit_with_retry(repository, make_plan, f"order {event.order_key}")


def _once(repository: OrderRepository, event_key: str) -> ProcessResult | None:
    """A request with an id already processed answers as before, without re-planning (the
    plan would now contradict the state the first delivery produced)."""
    if repository.get_event_outcome(event_key) is not None:
        return ProcessResult(Outcome.DUPLICATE, "processed before", 0)
    return None


def ship_order(
    confirmation: OutboundConfirmation, repository: OrderRepository, now: Callable[[], datetime]
) -> ProcessResult:
    """Apply a WMS outbound confirmation once."""
    key = order_key(confirmation.platform, confirmation.store, confirmation.order_id)
    return _once(repository, confirmation.event_key) or commit_with_retry(
        repository,
        lambda: plan_shipment(confirmation, repository.get_order(key), now()),
        f"order {key}",
    )


def adjust_stock(
    adjustment: Adjustment, repository: OrderRepository, now: Callable[[], datetime]
) -> ProcessResult:
    """Apply a receipt, return or count once."""

    def make_plan() -> BookingPlan:
        levels = repository.get_stock([adjustment.sku])
        return plan_adjustment(
            adjustment, levels.get((adjustment.sku, adjustment.warehouse)), now()
        )

    return _once(repository, adjustment.event_key) or commit_with_retry(
        repository, make_plan, f"stock {adjustment.sku}@{adjustment.warehouse}"
    )


def expire_reservation(
    key: str, repository: OrderRepository, now: Callable[[], datetime]
) -> ProcessResult:
    """Release one order's reservation if it is (still) due."""

    def make_plan() -> BookingPlan | None:
        order = repository.get_order(key)
        return plan_expiry(order, now()) if order else None

    return commit_with_retry(repository, make_plan, f"order {key}")
