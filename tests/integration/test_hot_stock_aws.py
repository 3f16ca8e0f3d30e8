"""Hot SKUs on moto: bookings spread over shard items in the one transaction, reads sum them,
rebalances conserve, payments and cancellations find the shards holding the units, counts stay
exact; and a SKU throttled repeatedly is marked hot and sharded from then on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.adapters.dynamo import DynamoOrderRepository
from chalicelib.adapters.stock_shards import HotStockConfig
from chalicelib.domain.booking import BookingContext
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.model import Outcome
from chalicelib.domain.processing import adjust_stock, process_order_event
from chalicelib.domain.stock_ops import Adjustment, audit_stock, ledger_balances
from local import item_throttle
from tests.builders import event

SKU = "HOT-1"


def items(container) -> dict[str, tuple[int, int, int, int]]:
    return {
        i.warehouse: (int(i.on_hand), int(i.reserved), int(i.locked), int(i.available))
        for i in container.models.inventory.query(SKU, consistent_read=True)
    }


def book(repo, clock, order_id: str, status: str = "unpaid", quantity: int = 1, at: str = "T16"):
    updated = {"T16": "2026-11-25T16:00:00+08:00", "T17": "2026-11-25T17:00:00+08:00"}[at]
    ev = event(order_id=order_id, status=status, lines=((SKU, quantity),), updated_at=updated)
    for _ in range(10):  # as SQS redelivers what failed transiently
        try:
            return process_order_event(ev, repo, lambda: BookingContext(clock()))
        except TransientFailure:
            continue
    raise AssertionError(f"{order_id} never committed")


def audit(repo) -> list:
    return audit_stock(
        repo.all_stock(), ledger_balances(list(repo.ledger())), list(repo.open_orders())
    )


@pytest.fixture
def hot_repo(container) -> DynamoOrderRepository:
    return DynamoOrderRepository(container.models, HotStockConfig(frozenset({SKU}), 4, 0))


def test_bookings_spread_over_shards_and_reads_sum_them(container, hot_repo):
    clock = container.now
    adjust_stock(Adjustment("a1", SKU, "wh", "receipt", 20, "opening"), hot_repo, clock)
    # the receipt is spread over the shards in its own transaction (the base item made empty)
    assert items(container) == {
        "wh": (0, 0, 0, 0),
        **{f"wh#hot{i}": (5, 0, 0, 5) for i in range(1, 5)},
    }
    assert book(hot_repo, clock, "o0").outcome is Outcome.BOOKED
    for i in range(1, 12):
        assert book(hot_repo, clock, f"o{i}").outcome is Outcome.BOOKED
    stored = items(container)
    assert sum(v[1] for v in stored.values()) == 12
    assert sum(1 for v in stored.values() if v[1]) >= 3  # many shards took bookings
    assert all(min(v) >= 0 for v in stored.values())
    (level,) = hot_repo.get_sku_levels(SKU)
    assert (level.warehouse, level.on_hand, level.reserved, level.available) == ("wh", 20, 12, 8)
    assert [s.sku for s in hot_repo.all_stock() if s.sku == SKU] == [SKU]
    assert audit(hot_repo) == []


def test_a_booking_larger_than_any_shard_splits_in_one_transaction(container, hot_repo):
    clock = container.now
    adjust_stock(Adjustment("a1", SKU, "wh", "receipt", 8, "opening"), hot_repo, clock)
    book(hot_repo, clock, "warm")  # 8 spread over 4 shards, 2 each; one taken
    result = book(hot_repo, clock, "big", quantity=6)
    assert result.outcome is Outcome.BOOKED
    assert sum(1 for v in items(container).values() if v[1]) >= 3
    assert book(hot_repo, clock, "late", quantity=2).outcome is Outcome.REJECTED_OUT_OF_STOCK
    (level,) = hot_repo.get_sku_levels(SKU)
    assert (level.reserved, level.available) == (7, 1)
    assert audit(hot_repo) == []


def test_payment_cancellation_and_count_across_shards(container, hot_repo):
    clock = container.now
    adjust_stock(Adjustment("a1", SKU, "wh", "receipt", 12, "opening"), hot_repo, clock)
    for i in range(4):
        book(hot_repo, clock, f"o{i}", quantity=2)
    assert book(hot_repo, clock, "o0", status="paid", quantity=2, at="T17").outcome is (
        Outcome.BOOKED
    )
    cancelled = book(hot_repo, clock, "o1", status="cancelled", quantity=2, at="T17")
    assert cancelled.outcome is Outcome.BOOKED
    (level,) = hot_repo.get_sku_levels(SKU)
    assert (level.on_hand, level.locked, level.reserved, level.available) == (12, 2, 4, 6)
    adjust_stock(Adjustment("c1", SKU, "wh", "count", 10, "stocktake"), hot_repo, clock)
    (level,) = hot_repo.get_sku_levels(SKU)
    assert (level.on_hand, level.available) == (10, 4)
    assert all(min(v) >= 0 for v in items(container).values())
    assert audit(hot_repo) == []


def test_a_process_that_never_heard_learns_the_shards_from_its_reads(container, hot_repo):
    clock = container.now
    adjust_stock(Adjustment("a1", SKU, "wh", "receipt", 10, "opening"), hot_repo, clock)
    book(hot_repo, clock, "o1", quantity=3)
    other = DynamoOrderRepository(container.models)  # no configuration: learns from the items
    assert book(other, clock, "o2", quantity=3).outcome is Outcome.BOOKED
    assert items(container)["wh"][1] == 0  # it booked from the shards, not the base item
    (level,) = other.get_sku_levels(SKU)
    assert (level.reserved, level.available) == (6, 4)


@pytest.fixture
def throttled() -> Iterator[None]:
    item_throttle.install()
    item_throttle.configure(2)
    yield
    item_throttle.configure(0)


def test_repeated_throttling_marks_the_item_hot_and_bookings_then_spread(container, throttled):
    clock = container.now
    repo = DynamoOrderRepository(container.models, HotStockConfig(frozenset(), 4, 2))
    item_throttle.configure(0)
    adjust_stock(Adjustment("a1", SKU, "wh", "receipt", 30, "opening"), repo, clock)
    item_throttle.configure(2)
    outcomes = [book(repo, clock, f"o{i}").outcome for i in range(12)]
    assert outcomes == [Outcome.BOOKED] * 12  # throttled commits were retried, never rejected
    base = container.models.inventory.get(SKU, "wh", consistent_read=True)
    assert int(base.hot_shards) == 4
    assert any(key.startswith("wh#hot") for key in items(container))
    item_throttle.configure(0)
    (level,) = repo.get_sku_levels(SKU)
    assert (level.on_hand, level.reserved, level.available) == (30, 12, 18)
    assert audit(repo) == []
