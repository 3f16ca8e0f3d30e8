"""Hot SKU shards (domain/hot_stock.py): where a change lands, fallback, splits, holdback,
counts, rebalance; and a property test that interleavings never oversell nor lose units."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.booking import BookingContext
from chalicelib.domain.errors import Throttled, TransientFailure
from chalicelib.domain.hot_stock import (
    ShardedStock,
    fill_evenly,
    fold_levels,
    hop_instead_of_pause,
    needs_rebalance,
    parse_key,
    plan_rebalance,
    plan_top_up,
    shard_for,
    shard_key,
    spread_change,
    start_shard,
)
from chalicelib.domain.model import Outcome, StockChange, StockLevel
from chalicelib.domain.processing import process_order_event
from tests.builders import event
from tests.fakes import FakeOrderRepository, FixedClock, with_stock

CLOCK = FixedClock()


def item(key: str, available: int, reserved: int = 0, locked: int = 0, **rules) -> StockLevel:
    return StockLevel("S", key, available + reserved + locked, locked, reserved, available, **rules)


def sharded(base: int, *shards: int, holdback: int = 0, k: int | None = None) -> ShardedStock:
    items = [item("W", base, holdback=holdback)]
    items += [item(shard_key("W", i + 1), a) for i, a in enumerate(shards)]
    return ShardedStock.of("S", "W", k if k is not None else len(shards), items)


def booking(quantity: int, holdback: int = 0) -> StockChange:
    return StockChange("S", "W", reserved=quantity, min_available=quantity + holdback)


def apply_all(stock: ShardedStock, pieces: list[StockChange]) -> dict[int, StockLevel]:
    parts = dict(stock.parts)
    for piece in pieces:
        _, index = parse_key(piece.warehouse)
        level = parts.get(index) or StockLevel("S", piece.warehouse, 0, 0, 0, 0)
        assert level.admits(piece), (level, piece)
        parts[index] = level.apply(piece)
    return parts


def test_shard_keys_round_trip_and_base_is_the_warehouse():
    assert shard_key("W", 0) == "W"
    assert parse_key(shard_key("sh-1", 3)) == ("sh-1", 3)
    assert parse_key("sh-1") == ("sh-1", 0)
    assert parse_key("odd#hot") == ("odd#hot", 0)


def test_start_shard_is_stable_and_spreads_orders_evenly():
    starts = Counter(start_shard(f"mall#s1#o{i}", 4) for i in range(4000))
    assert set(starts) == {1, 2, 3, 4}
    assert min(starts.values()) > 800  # each near its 1,000 share
    assert start_shard("mall#s1#o7", 4) == start_shard("mall#s1#o7", 4)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 8, 12, 32])
def test_k_hops_visit_every_shard_once_starting_at_the_start_shard(k):
    for i in range(300):
        key = f"mall#s1#o{i}"
        hops = [shard_for(key, k, hop) for hop in range(k)]
        assert sorted(hops) == list(range(1, k + 1))
        assert hops[0] == start_shard(key, k)
        assert shard_for(key, k, k) == hops[0]  # then round again


def test_orders_that_met_on_a_throttled_shard_mostly_part_on_the_next_hop():
    k = 8
    keys = [f"mall#s1#o{i}" for i in range(2000)]
    by_start: dict[int, list[str]] = {}
    for key in keys:
        by_start.setdefault(shard_for(key, k, 0), []).append(key)
    met = again = 0
    for group in by_start.values():
        for a, b in pairwise(group):
            met += 1
            again += shard_for(a, k, 1) == shard_for(b, k, 1)
    assert again / met < 0.4  # one step for all (+1) would keep every pair together


def test_a_throttled_shard_booking_hops_at_once_and_pauses_only_after_a_whole_ring():
    assert [hop_instead_of_pause(n, 4) for n in range(1, 10)] == [
        True, True, True, False, True, True, True, False, True,
    ]  # fmt: skip
    assert not any(hop_instead_of_pause(n, 1) for n in range(1, 5))  # one shard: nowhere to go
    assert not any(hop_instead_of_pause(n, 0) for n in range(1, 5))  # not sharded


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.integers(1, 12), st.integers(0, 50), min_size=1, max_size=12),
    st.integers(0, 400),
)
def test_fill_evenly_raises_the_lowest_first_and_gives_exactly_the_units(levels, amount):
    add = fill_evenly(levels, amount)
    assert sum(add.values()) == amount and min(add.values()) >= 0
    final = {i: levels[i] + add[i] for i in levels}
    for i in levels:
        if add[i]:  # nothing was given to an item while another stayed two or more lower
            assert final[i] <= min(final.values()) + 1


def test_fold_sums_shards_into_the_base_with_the_base_rules():
    (level,) = fold_levels(
        [
            item("W", 5, holdback=2, safety_stock=3),
            item("W#hot1", 4, reserved=1),
            item("W#hot2", 0, locked=2),
        ]
    )
    assert (level.warehouse, level.on_hand, level.available) == ("W", 12, 9)
    assert (level.reserved, level.locked, level.holdback, level.safety_stock) == (1, 2, 2, 3)


def test_booking_takes_from_its_start_shard_only_when_it_covers():
    stock = sharded(0, 5, 5, 5)
    (piece,) = spread_change(booking(3), stock, 2)
    assert (piece.warehouse, piece.reserved, piece.min_available) == ("W#hot2", 3, 3)


def test_short_start_shard_falls_back_round_the_ring_and_splits_in_one_plan():
    stock = sharded(0, 1, 2, 4)
    pieces = spread_change(booking(5), stock, 3)
    assert [(p.warehouse, p.reserved) for p in pieces] == [("W#hot1", 1), ("W#hot3", 4)]
    assert sum(p.available for p in pieces) == -5
    apply_all(stock, pieces)


def test_base_gives_last_and_never_its_holdback():
    stock = sharded(6, 1, 0, holdback=4)
    pieces = spread_change(booking(3, holdback=4), stock, 1)
    by_key = {p.warehouse: p for p in pieces}
    assert by_key["W#hot1"].reserved == 1
    assert (by_key["W"].reserved, by_key["W"].min_available) == (2, 2 + 4)
    parts = apply_all(stock, pieces)
    assert parts[0].available == 4  # the holdback stays


def test_uncovered_rest_lands_on_the_start_shard_whose_condition_then_fails():
    stock = sharded(0, 1, 1)
    pieces = spread_change(booking(4), stock, 1)
    start = next(p for p in pieces if p.warehouse == "W#hot1")
    assert not stock.parts[1].admits(start)


def test_payment_and_release_move_within_the_shards_holding_the_reservation():
    stock = ShardedStock.of(
        "S", "W", 2, [item("W", 0), item("W#hot1", 0, reserved=2), item("W#hot2", 3, reserved=1)]
    )
    paid = spread_change(StockChange("S", "W", reserved=-3, locked=3), stock, 2)
    assert {(p.warehouse, p.reserved, p.locked) for p in paid} == {
        ("W#hot2", -1, 1),
        ("W#hot1", -2, 2),
    }
    assert all(p.available == 0 for p in paid)
    released = spread_change(StockChange("S", "W", reserved=-2), stock, 1)
    assert [(p.warehouse, p.reserved, p.available) for p in released] == [("W#hot1", -2, 2)]
    apply_all(stock, paid)


def test_a_booking_spreads_stock_waiting_on_the_base_item_over_all_shards_at_once():
    stock = sharded(40, 0, 0, 0, 0)  # just marked hot: no shard holds anything yet
    pieces = spread_change(booking(2), stock, 3)
    by_key = {p.warehouse: p for p in pieces}
    assert (by_key["W"].on_hand, by_key["W"].min_available) == (-40, 40)  # one base write
    assert {k: p.on_hand for k, p in by_key.items() if k != "W"} == {
        f"W#hot{i}": 10 for i in range(1, 5)
    }
    assert by_key["W#hot3"].reserved == 2  # and it books from its start shard
    assert by_key["W#hot3"].min_available == 0  # nothing taken from what it held before
    parts = apply_all(stock, pieces)
    assert [parts[i].available for i in range(5)] == [0, 10, 10, 8, 10]


def test_the_spread_off_the_base_item_keeps_its_holdback_and_fills_the_lowest_first():
    stock = sharded(12, 0, 3, holdback=2)
    pieces = spread_change(booking(1, holdback=2), stock, 1)
    parts = apply_all(stock, pieces)
    # 10 spread: 7 to hot1 and 3 to hot2 (both at 7: lowest first), then 1 booked from hot1
    assert [parts[i].available for i in range(3)] == [2, 6, 6]
    assert next(p for p in pieces if p.warehouse == "W").min_available == 10 + 2


def test_receipts_spread_evenly_over_the_shards_lowest_first():
    stock = sharded(0, 3, 0, 1)
    pieces = spread_change(StockChange("S", "W", on_hand=10), stock, 1)
    assert {p.warehouse: p.on_hand for p in pieces} == {"W#hot1": 2, "W#hot2": 5, "W#hot3": 3}
    parts = apply_all(stock, pieces)
    assert [parts[i].available for i in (0, 1, 2, 3)] == [0, 5, 5, 4]


def test_a_receipt_fills_the_base_holdback_first_then_the_shards():
    stock = sharded(1, 0, 0, holdback=3)
    pieces = spread_change(StockChange("S", "W", on_hand=9), stock, 2)
    assert {p.warehouse: p.on_hand for p in pieces} == {"W": 2, "W#hot1": 4, "W#hot2": 3}


def test_a_first_receipt_makes_the_shards_even_and_an_empty_base_item():
    stock = ShardedStock.of("S", "W", 8, [])
    pieces = spread_change(StockChange("S", "W", on_hand=83), stock, 5)
    by_key = {p.warehouse: p.on_hand for p in pieces}
    assert by_key.pop("W") == 0  # made, holding nothing: its rules and the key reads find
    assert sorted(by_key.values()) == [10] * 5 + [11] * 3
    later = spread_change(StockChange("S", "W", on_hand=8), sharded(0, 10, 10, k=8), 1)
    assert "W" not in {p.warehouse for p in later}  # not written again by later receipts


def test_a_count_conditions_every_item_on_its_on_hand():
    stock = sharded(2, 3, 4)
    pieces = spread_change(StockChange("S", "W", on_hand=-5, expect_on_hand=9), stock, 1)
    assert {p.warehouse: p.expect_on_hand for p in pieces} == {"W": 2, "W#hot1": 3, "W#hot2": 4}
    assert sum(p.on_hand for p in pieces) == -5
    apply_all(stock, pieces)


def test_rebalance_evens_shards_keeps_holdback_and_conserves():
    stock = sharded(9, 0, 7, 1, holdback=2)
    moves = plan_rebalance(stock)
    assert sum(m.on_hand for m in moves) == 0
    parts = apply_all(stock, moves)
    assert [parts[i].available for i in (1, 2, 3)] == [5, 5, 5]
    assert parts[0].available == 2
    assert next(m for m in moves if m.warehouse == "W").min_available == 7 + 2


def test_rebalance_fills_shards_that_do_not_exist_yet():
    stock = sharded(10, k=4)
    parts = apply_all(stock, plan_rebalance(stock))
    assert [parts[i].available for i in range(5)] == [0, 3, 3, 2, 2]


def test_needs_rebalance_only_when_a_shard_ran_low_and_units_remain():
    assert needs_rebalance(sharded(0, 8, 0))
    assert needs_rebalance(sharded(10, k=4))  # shards not made yet: a receipt is spread
    assert needs_rebalance(sharded(0, 15, 1))  # low, at a quarter of its share
    assert not needs_rebalance(sharded(0, 4, 4))
    assert not needs_rebalance(sharded(0, 3, 0))  # under two a shard: the tail falls back
    assert plan_rebalance(sharded(0, 4, 4)) == []


def test_top_up_moves_half_the_difference_between_two_shards_only():
    stock = sharded(1, 9, 0, 4, holdback=1)
    moves = plan_top_up(stock)
    assert [(m.warehouse, m.on_hand, m.min_available) for m in moves] == [
        ("W#hot1", -4, 4),
        ("W#hot2", 4, 0),
    ]
    parts = apply_all(stock, moves)
    assert [parts[i].available for i in (1, 2, 3)] == [5, 4, 4]
    assert plan_top_up(sharded(0, 3, 3)) == []


def test_top_up_spreads_a_receipt_waiting_on_the_base_item_over_all_shards():
    stock = sharded(8, 1, 0)
    parts = apply_all(stock, plan_top_up(stock))
    assert [parts[i].available for i in (0, 1, 2)] == [0, 5, 4]


def test_spread_is_identity_in_total_for_any_change():
    stock = sharded(3, 2, 5, 0)
    change = StockChange("S", "W", reserved=4, min_available=4)
    pieces = spread_change(change, stock, 3)
    assert sum(p.reserved for p in pieces) == 4
    assert sum(p.on_hand for p in pieces) == 0


# ---------------------------------------------------------------- property: interleavings

ops = st.lists(
    st.one_of(
        st.tuples(st.just("book"), st.integers(1, 4), st.integers(0, 10**6), st.booleans()),
        st.tuples(st.just("release"), st.integers(1, 4), st.integers(0, 10**6), st.booleans()),
        st.tuples(st.just("rebalance"), st.just(0), st.integers(0, 1), st.booleans()),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(
    k=st.integers(1, 6),
    stock_units=st.integers(0, 40),
    holdback=st.integers(0, 5),
    script=ops,
)
def test_interleaved_bookings_and_rebalances_never_oversell_and_conserve(
    k, stock_units, holdback, script
):
    """Each step plans from a snapshot that may be stale (`stale`: the state before the
    previous step) and applies only if every item's condition holds, as one transaction:
    whatever the interleaving, no bucket goes negative, the holdback is never sold to a
    channel it is kept from, and booked + available is always the stock."""
    parts: dict[int, StockLevel] = {0: item("W", stock_units, holdback=holdback)}
    previous = dict(parts)
    booked = 0
    for kind, quantity, key, stale in script:
        snapshot = ShardedStock("S", "W", k, previous if stale else parts)
        previous = dict(parts)
        total = fold_levels(parts.values())[0]
        if kind == "book":
            if total.available - holdback < quantity:
                continue  # the plan (on the sum) rejects it
            pieces = spread_change(booking(quantity, holdback), snapshot, start_shard(str(key), k))
        elif kind == "release":
            quantity = min(quantity, booked)
            if not quantity:
                continue
            pieces = spread_change(StockChange("S", "W", reserved=-quantity), snapshot, 1)
        else:
            pieces = plan_rebalance(snapshot) if key % 2 else plan_top_up(snapshot)
            pieces = [
                StockChange(
                    p.sku,
                    p.warehouse,
                    on_hand=p.on_hand,
                    min_available=p.min_available,
                    expect_on_hand=snapshot.parts[parse_key(p.warehouse)[1]].on_hand
                    if parse_key(p.warehouse)[1] in snapshot.parts
                    else 0,
                )
                for p in pieces
            ]
        if not all(
            (
                parts.get(parse_key(p.warehouse)[1]) or StockLevel("S", p.warehouse, 0, 0, 0, 0)
            ).admits(p)
            for p in pieces
        ):
            continue  # a condition failed: the transaction is cancelled, nothing applied
        for p in pieces:
            index = parse_key(p.warehouse)[1]
            parts[index] = (parts.get(index) or StockLevel("S", p.warehouse, 0, 0, 0, 0)).apply(p)
        if kind == "book":
            booked += quantity
        elif kind == "release":
            booked -= quantity
        for level in parts.values():
            assert level.is_consistent()
        total = fold_levels(parts.values())[0]
        assert total.on_hand == stock_units
        assert total.reserved == booked
        assert total.available == stock_units - booked
        # the holdback is kept from the channel booking here, whatever the interleaving
        assert parts[0].available >= min(holdback, stock_units)
        assert total.available >= min(holdback, stock_units)


@pytest.mark.parametrize("k", [1, 2, 4, 8])
def test_k_shards_take_exactly_the_stock_one_unit_at_a_time(k):
    stock_units = 37
    parts = {0: item("W", stock_units)}
    sold = 0
    for i in range(60):
        snapshot = ShardedStock("S", "W", k, parts)
        if fold_levels(parts.values())[0].available < 1:
            break
        pieces = spread_change(booking(1), snapshot, start_shard(f"o{i}", k))
        parts = apply_all(snapshot, pieces)
        sold += 1
        snapshot = ShardedStock("S", "W", k, parts)
        if needs_rebalance(snapshot):
            parts = apply_all(snapshot, plan_top_up(snapshot))
    assert sold == stock_units
    assert fold_levels(parts.values())[0].reserved == stock_units


# ---------------------------------------------------------------- the processor and throttling


class ThrottledRepository(FakeOrderRepository):
    """Refuses the first `times` commits for rate, as DynamoDB's per-item limit does."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def commit(self, plan):
        if self.times:
            self.times -= 1
            raise Throttled("write rate exceeded: stock S@W")
        super().commit(plan)


def test_a_throttled_commit_is_retried_never_rejected():
    repo = ThrottledRepository(times=3)
    with_stock(repo, "S", "W", 5)
    result = process_order_event(event(lines=(("S", 2),)), repo, lambda: BookingContext(CLOCK()))
    assert (result.outcome, result.attempts) == (Outcome.BOOKED, 4)
    assert repo.stock[("S", "W")].reserved == 2


def test_throttling_past_the_retries_is_transient_for_the_queue_to_redeliver():
    repo = ThrottledRepository(times=50)
    with_stock(repo, "S", "W", 5)
    with pytest.raises(TransientFailure):
        process_order_event(event(lines=(("S", 2),)), repo, lambda: BookingContext(CLOCK()))
    assert repo.stock[("S", "W")].reserved == 0 and not repo.orders


def test_hot_sku_settings_default_parse_and_bounds():
    from chalicelib.adapters.stock_shards import hot_config
    from chalicelib.settings import _REQUIRED, ConfigError, Settings

    env = {**{var: "x" for var in _REQUIRED.values()}, "AWS_REGION": "ap-east-1"}
    plain = Settings.from_env(env)
    assert (plain.hot_skus, plain.hot_shards, plain.hot_auto_throttles) == ((), 4, 3)
    hot = Settings.from_env({**env, "ORDERHUB_HOT_SKUS": " A-1, B-2 ,", "ORDERHUB_HOT_SHARDS": "8"})
    assert (hot.hot_skus, hot.hot_shards) == (("A-1", "B-2"), 8)
    config = hot_config(hot.hot_skus, hot.hot_shards, hot.hot_auto_throttles)
    assert config.skus == frozenset({"A-1", "B-2"}) and config.shards == 8
    for bad in ({"ORDERHUB_HOT_SHARDS": "0"}, {"ORDERHUB_HOT_SHARDS": "x"}):
        with pytest.raises(ConfigError, match="ORDERHUB_HOT_SHARDS"):
            Settings.from_env({**env, **bad})


def test_after_a_throttled_shard_the_retry_routes_to_the_next_hop_without_a_pause(monkeypatch):
    from chalicelib.adapters import stock_shards
    from chalicelib.adapters.stock_shards import HotStockConfig, StockShards

    pauses: list[int] = []
    monkeypatch.setattr(stock_shards, "back_off", pauses.append)
    shards = StockShards(None, None, HotStockConfig(frozenset({"S"}), 4, 0))
    levels = [item("W", 0)] + [item(shard_key("W", i), 5) for i in range(1, 5)]

    def routed_to() -> str:
        shards.observe("S", [], levels)  # the booking's own read, kept for its commit
        (piece,) = shards.route([booking(1)], "mall#s1#o1", None).changes
        shards.forget_reads()
        return piece.warehouse

    tried = [routed_to()]
    for _ in range(3):
        shards.after_throttle([("S", tried[-1])])
        tried.append(routed_to())
    assert tried == [shard_key("W", shard_for("mall#s1#o1", 4, hop)) for hop in range(4)]
    assert pauses == []  # three hops, each at once
    shards.after_throttle([("S", tried[-1])])
    assert pauses == [1]  # every shard was busy: now a pause
    shards.after_throttle([("S", "W")])
    assert pauses == [1, 5]  # the base item (not a shard): the plain back-off
    shards.throttle_streak(False)
    assert routed_to() == tried[0]  # a commit went through: back to the start shard


def test_writes_are_counted_for_hot_items_only():
    from chalicelib.adapters.stock_shards import HotStockConfig, Routed, StockShards

    shards = StockShards(None, None, HotStockConfig(frozenset({"S"}), 2, 0))
    stock = sharded(0, 1, 1)
    cold = StockChange("C", "W", reserved=1, min_available=1)
    shards.note_committed(Routed([booking(1), cold], {("S", "W"): stock}))
    assert shards.counts == Counter({("commit", "S", "W"): 1})  # not the cold SKU's item
    shards.note_throttled([("C", "W")])
    shards.note_committed(Routed([cold], {}))
    assert shards.counts[("commit", "C", "W")] == 1  # throttled once: now counted
