"""Given current order and stock, plan_event moves exactly the difference, or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.booking import BookingContext, merge_lines, plan_event
from chalicelib.domain.model import Booking, Outcome, StockLevel
from chalicelib.domain.ports import Warehouse
from tests.builders import event

NOW = datetime(2026, 11, 25, 8, 1, tzinfo=UTC)
CTX = BookingContext(NOW)


def stock(*levels: tuple[str, str, int]) -> dict[tuple[str, str], StockLevel]:
    return {(s, w): StockLevel.new(s, w, q) for s, w, q in levels}


def apply(plan, index):
    for change in plan.stock_changes:
        key = (change.sku, change.warehouse)
        index[key] = index[key].apply(change)
    return index


def test_new_unpaid_order_reserves_its_quantities():
    plan = plan_event(event(lines=(("A", 2),)), None, stock(("A", "w1", 5)), CTX)
    assert plan.outcome is Outcome.BOOKED
    assert plan.order.booking is Booking.RESERVED
    assert [(c.sku, c.warehouse, c.reserved, c.locked) for c in plan.stock_changes] == [
        ("A", "w1", 2, 0)
    ]
    assert plan.expected_version == 0 and plan.order.version == 1


def test_new_paid_order_locks_directly():
    plan = plan_event(event(status="paid", lines=(("A", 3),)), None, stock(("A", "w1", 5)), CTX)
    assert [(c.reserved, c.locked, c.available) for c in plan.stock_changes] == [(0, 3, -3)]
    assert plan.order.booking is Booking.LOCKED


def test_payment_moves_reserved_to_locked_without_touching_available():
    index = stock(("A", "w1", 5))
    created = plan_event(event(lines=(("A", 2),)), None, index, CTX)
    index = apply(created, index)
    paid = plan_event(
        event(status="paid", updated_at="2026-11-25T16:05:00+08:00", lines=(("A", 2),)),
        created.order,
        index,
        CTX,
    )
    (change,) = paid.stock_changes
    assert (change.reserved, change.locked, change.available) == (-2, 2, 0)
    index = apply(paid, index)
    assert index[("A", "w1")].available == 3 and index[("A", "w1")].locked == 2


def test_cancel_releases_everything_held():
    index = stock(("A", "w1", 5))
    created = plan_event(event(lines=(("A", 2),)), None, index, CTX)
    index = apply(created, index)
    cancelled = plan_event(
        event(status="cancelled", updated_at="2026-11-25T16:09:00+08:00", lines=(("A", 2),)),
        created.order,
        index,
        CTX,
    )
    index = apply(cancelled, index)
    assert index[("A", "w1")] == StockLevel.new("A", "w1", 5)
    assert cancelled.order.booking is Booking.RELEASED and cancelled.order.holds == ()


def test_older_event_after_newer_is_stale_and_moves_nothing():
    index = stock(("A", "w1", 5))
    paid = plan_event(
        event(status="paid", updated_at="2026-11-25T16:05:00+08:00"), None, index, CTX
    )
    late_create = plan_event(
        event(status="unpaid", updated_at="2026-11-25T16:00:00+08:00"),
        paid.order,
        apply(paid, index),
        CTX,
    )
    assert late_create.outcome is Outcome.STALE
    assert late_create.order is None and late_create.stock_changes == ()


def test_same_instant_later_lifecycle_step_wins():
    index = stock(("A", "w1", 5))
    created = plan_event(event(status="unpaid", lines=(("A", 1),)), None, index, CTX)
    paid_same_second = plan_event(
        event(status="paid", lines=(("A", 1),)), created.order, apply(created, index), CTX
    )
    assert paid_same_second.outcome is Outcome.BOOKED
    assert paid_same_second.order.booking is Booking.LOCKED


def test_events_after_cancel_are_ignored():
    index = stock(("A", "w1", 5))
    cancelled = plan_event(event(status="cancelled"), None, index, CTX)
    assert cancelled.outcome is Outcome.BOOKED and cancelled.stock_changes == ()
    later = plan_event(
        event(status="paid", updated_at="2026-11-25T17:00:00+08:00"),
        cancelled.order,
        index,
        CTX,
    )
    assert later.outcome is Outcome.IGNORED and later.stock_changes == ()


def test_short_stock_rejects_whole_order_and_books_nothing():
    plan = plan_event(
        event(lines=(("A", 2), ("B", 9))), None, stock(("A", "w1", 5), ("B", "w1", 3)), CTX
    )
    assert plan.outcome is Outcome.REJECTED_OUT_OF_STOCK
    assert plan.stock_changes == ()
    assert "B needs 9" in plan.record.reason
    assert plan.order.booking is Booking.REJECTED_OUT_OF_STOCK


def test_one_warehouse_fills_the_whole_order_by_priority():
    index = stock(
        ("A", "w1", 5),
        ("B", "w1", 1),
        ("A", "w2", 5),
        ("B", "w2", 5),
        ("A", "w3", 9),
        ("B", "w3", 9),
    )
    plan = plan_event(
        event(lines=(("A", 2), ("B", 2))),
        None,
        index,
        BookingContext(NOW, {"w2": Warehouse("w2", "", 2), "w3": Warehouse("w3", "", 3)}),
    )
    assert {c.warehouse for c in plan.stock_changes} == {"w2"}


def test_lines_of_one_sku_are_merged_into_one_change():
    assert merge_lines(event(lines=(("A", 1), ("A", 2), ("B", 1))).lines) == {"A": 3, "B": 1}
    plan = plan_event(event(lines=(("A", 1), ("A", 2))), None, stock(("A", "w1", 3)), CTX)
    assert [(c.sku, c.reserved) for c in plan.stock_changes] == [("A", 3)]


def test_unknown_sku_needs_attention_and_books_nothing():
    plan = plan_event(event(lines=(("A", 1), ("NOPE", 1))), None, stock(("A", "w1", 3)), CTX)
    assert plan.outcome is Outcome.NEEDS_ATTENTION
    assert plan.stock_changes == ()
    assert "NOPE" in plan.record.reason


def test_update_that_adds_quantity_books_only_the_difference():
    index = stock(("A", "w1", 5))
    created = plan_event(event(lines=(("A", 1),)), None, index, CTX)
    index = apply(created, index)
    updated = plan_event(
        event(updated_at="2026-11-25T16:01:00+08:00", lines=(("A", 3),)),
        created.order,
        index,
        CTX,
    )
    assert [(c.reserved, c.available) for c in updated.stock_changes] == [(2, -2)]


def test_update_beyond_stock_keeps_holds_and_asks_for_attention():
    index = stock(("A", "w1", 2))
    created = plan_event(event(lines=(("A", 1),)), None, index, CTX)
    index = apply(created, index)
    updated = plan_event(
        event(updated_at="2026-11-25T16:01:00+08:00", lines=(("A", 5),)),
        created.order,
        index,
        CTX,
    )
    assert updated.outcome is Outcome.NEEDS_ATTENTION
    assert updated.stock_changes == ()
    assert updated.order.holds == created.order.holds
