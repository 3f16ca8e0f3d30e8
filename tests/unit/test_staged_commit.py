"""Orders touching more stock items than one transaction holds are booked whole, in parts, and
never left half-applied: a failed part, a lost race or a crash rolls the parts back."""

from __future__ import annotations

import pytest

from chalicelib.domain.booking import BookingContext, plan_event
from chalicelib.domain.errors import ConcurrentUpdate, TransientFailure
from chalicelib.domain.model import Outcome, StockLevel
from chalicelib.domain.processing import adjust_stock, process_order_event
from chalicelib.domain.staged import (
    MAX_TRANSACTION_ITEMS,
    STAGING_TIMEOUT,
    commit_plan,
    items_needed,
)
from chalicelib.domain.stock_ops import Adjustment, audit_stock, ledger_balances
from tests.builders import event
from tests.fakes import FakeOrderRepository, FixedClock

SKUS = [f"S{i:03d}" for i in range(150)]
CLOCK = FixedClock()


def context() -> BookingContext:
    return BookingContext(CLOCK())


def big_order(order_id="big", status="unpaid", updated="2026-11-25T16:00:00+08:00"):
    return event(
        order_id=order_id,
        status=status,
        updated_at=updated,
        lines=tuple((sku, 1) for sku in SKUS),
        delivery=f"{order_id}-{status}",
    )


def stocked(repo_class=FakeOrderRepository, quantity=1):
    repo = repo_class()
    for sku in SKUS:
        adjust_stock(
            Adjustment(f"open-{sku}", sku, "w1", "receipt", quantity, "opening"), repo, CLOCK
        )
    return repo


def no_drift(repo) -> bool:
    return (
        audit_stock(
            repo.all_stock(), ledger_balances(list(repo.ledger())), list(repo.open_orders())
        )
        == []
    )


def test_big_order_is_booked_whole_and_ledger_explains_it():
    repo = stocked()
    plan = plan_event(big_order(), None, repo.get_stock(SKUS), context())
    assert items_needed(plan) > MAX_TRANSACTION_ITEMS
    result = process_order_event(big_order(), repo, context)
    assert result.outcome is Outcome.BOOKED
    assert all(repo.stock[(sku, "w1")].reserved == 1 for sku in SKUS)
    assert len(repo.get_order("mall#s1#big").holds) == 150
    assert no_drift(repo)


def test_redelivered_big_order_books_nothing_more():
    repo = stocked(quantity=2)
    process_order_event(big_order(), repo, context)
    again = process_order_event(big_order(), repo, context)
    assert again.outcome is Outcome.DUPLICATE
    assert all(repo.stock[(sku, "w1")].reserved == 1 for sku in SKUS)
    assert no_drift(repo)


class LosesARace(FakeOrderRepository):
    """Another order takes the last unit of the final SKU while our parts are applied."""

    def commit(self, plan):
        if plan.record.event_key.endswith("#part1") and not getattr(self, "raced", False):
            self.raced = True
            level = self.stock[(SKUS[-1], "w1")]
            self.stock[(SKUS[-1], "w1")] = StockLevel(level.sku, "w1", 1, 0, 1, 0)
        super().commit(plan)


def test_race_on_a_later_part_rolls_earlier_parts_back_and_replans():
    repo = stocked(LosesARace)
    result = process_order_event(big_order(), repo, context)
    assert result.outcome is Outcome.REJECTED_OUT_OF_STOCK
    assert f"{SKUS[-1]} needs 1" in result.reason
    assert all(repo.stock[(sku, "w1")].reserved == 0 for sku in SKUS[:-1])
    assert not any("#part" in key for key in repo.events)
    assert all(record.outcome is not Outcome.STAGING for record, _ in repo.events.values())


class CrashesAfterFirstPart(FakeOrderRepository):
    def commit(self, plan):
        super().commit(plan)
        if plan.record.outcome is Outcome.STAGING and not getattr(self, "crashed", False):
            self.crashed = True
            raise RuntimeError("Lambda timed out")


def test_crash_between_parts_is_repaired_by_the_retry():
    clock = FixedClock()
    repo = stocked(CrashesAfterFirstPart)

    def ctx() -> BookingContext:
        return BookingContext(clock())

    with pytest.raises(RuntimeError):
        process_order_event(big_order(), repo, ctx)
    assert sum(repo.stock[(sku, "w1")].reserved for sku in SKUS) == 90  # half-applied, for now
    with pytest.raises(TransientFailure):  # a duplicate arriving now waits: staging is fresh
        process_order_event(big_order(), repo, ctx)
    clock.advance(seconds=STAGING_TIMEOUT.total_seconds() + 1)
    retry = process_order_event(big_order(), repo, ctx)  # SQS redelivers the message
    assert retry.outcome is Outcome.BOOKED
    assert all(repo.stock[(sku, "w1")].reserved == 1 for sku in SKUS)
    assert no_drift(repo)


def test_conflict_on_final_commit_rolls_parts_back():
    repo = stocked()
    plan = plan_event(big_order(), None, repo.get_stock(SKUS), context())
    process_order_event(
        big_order(order_id="big", status="paid", updated="2026-11-25T16:05:00+08:00"),
        stocked(),
        context,
    )
    repo.orders["mall#s1#big"] = plan.order.with_changes(version=5)  # someone else wrote it
    with pytest.raises(ConcurrentUpdate):
        commit_plan(repo, plan)
    assert all(repo.stock[(sku, "w1")].reserved == 0 for sku in SKUS)
    assert not any("#part" in key for key in repo.events)
    assert all(record.outcome is not Outcome.STAGING for record, _ in repo.events.values())
