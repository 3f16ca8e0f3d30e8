"""One contract, two implementations: the in-memory fake and the DynamoDB adapter must agree on
every outcome, including what a failed transaction leaves behind (nothing)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib.domain.booking import BookingContext, plan_event
from chalicelib.domain.errors import AlreadyProcessed, ConcurrentUpdate
from chalicelib.domain.model import Outcome, StockChange, StockLevel
from chalicelib.domain.processing import process_order_event
from tests.builders import event
from tests.fakes import FakeOrderRepository, FixedClock

NOW = datetime(2026, 11, 25, 8, 1, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamodb"])
def repo(request):
    if request.param == "fake":
        repository = FakeOrderRepository()
    else:
        repository = request.getfixturevalue("container").orders
    repository.put_stock(StockLevel.new("A", "w1", 5))
    repository.put_stock(StockLevel.new("B", "w1", 2))
    return repository


def level(repo, sku="A", wh="w1"):
    return repo.get_stock([sku])[(sku, wh)]


def commit_new(repo, ev):
    plan = plan_event(
        ev, repo.get_order(ev.order_key), repo.get_stock(["A", "B"]), BookingContext(NOW)
    )
    repo.commit(plan)
    return plan


def test_missing_order_reads_as_none(repo):
    assert repo.get_order("mall#s1#nope") is None


def test_committed_plan_reads_back_whole(repo):
    plan = commit_new(repo, event(lines=(("A", 2), ("B", 1))))
    assert repo.get_order(plan.order.key) == plan.order
    assert level(repo) == StockLevel("A", "w1", 5, 0, 2, 3)
    assert repo.get_event_outcome(plan.record.event_key)["outcome"] == "booked"


def test_the_booking_read_returns_the_order_and_the_existing_stock_items(repo):
    assert repo.read_booking("mall#s1#nope", ["A", "Z"], ["w1", "w2"]) == (
        None,
        {("A", "w1"): level(repo)},
    )
    plan = commit_new(repo, event(lines=(("A", 2), ("B", 1))))
    order, stock = repo.read_booking(plan.order.key, ["A", "B", "A"], ["w1"])
    assert order == repo.get_order(plan.order.key) == plan.order
    assert stock == {("A", "w1"): level(repo), ("B", "w1"): level(repo, "B")}


def test_the_booking_read_spans_more_keys_than_one_batch_get(repo):
    skus = [f"S{i:03d}" for i in range(60)]
    for sku in skus[::7]:
        repo.put_stock(StockLevel.new(sku, "w2", 1))
    _, stock = repo.read_booking("mall#s1#nope", skus, ["w1", "w2"])  # 121 keys
    assert sorted(stock) == [(sku, "w2") for sku in skus[::7]]


def test_second_commit_of_one_event_is_already_processed(repo):
    plan = commit_new(repo, event(lines=(("A", 2),)))
    with pytest.raises(AlreadyProcessed):
        repo.commit(replace(plan, expected_version=plan.order.version))
    assert level(repo).reserved == 2


def test_stale_order_version_cancels_everything(repo):
    plan = commit_new(repo, event(lines=(("A", 2),)))
    other = plan_event(
        event(status="paid", updated_at="2026-11-25T16:10:00+08:00", lines=(("A", 2),)),
        plan.order,
        repo.get_stock(["A"]),
        BookingContext(NOW),
    )
    with pytest.raises(ConcurrentUpdate):
        repo.commit(replace(other, expected_version=plan.order.version + 7))
    assert level(repo) == StockLevel("A", "w1", 5, 0, 2, 3)
    assert repo.get_event_outcome(other.record.event_key) is None


def test_stock_condition_failure_cancels_everything(repo):
    plan = plan_event(
        event(lines=(("A", 2), ("B", 1))), None, repo.get_stock(["A", "B"]), BookingContext(NOW)
    )
    too_much = replace(
        plan, stock_changes=(StockChange("A", "w1", reserved=2), StockChange("B", "w1", reserved=3))
    )
    with pytest.raises(ConcurrentUpdate):
        repo.commit(too_much)
    assert level(repo) == StockLevel.new("A", "w1", 5)
    assert level(repo, "B") == StockLevel.new("B", "w1", 2)
    assert repo.get_order(plan.order.key) is None
    assert repo.get_event_outcome(plan.record.event_key) is None


def test_change_to_missing_stock_item_is_refused(repo):
    plan = plan_event(event(lines=(("A", 1),)), None, repo.get_stock(["A"]), BookingContext(NOW))
    ghost = replace(plan, stock_changes=(StockChange("A", "nowhere", reserved=1),))
    with pytest.raises(ConcurrentUpdate):
        repo.commit(ghost)


def test_full_lifecycle_through_processing(repo):
    clock = FixedClock()
    steps = [
        ("unpaid", "2026-11-25T16:00:00+08:00"),
        ("paid", "2026-11-25T16:01:00+08:00"),
        ("paid", "2026-11-25T16:01:00+08:00"),
        ("cancelled", "2026-11-25T16:30:00+08:00"),
    ]
    outcomes = [
        process_order_event(
            event(status=s, updated_at=t, lines=(("A", 2),), delivery=f"d{i}"),
            repo,
            lambda: BookingContext(clock()),
        ).outcome
        for i, (s, t) in enumerate(steps)
    ]
    assert outcomes == [Outcome.BOOKED, Outcome.BOOKED, Outcome.STALE, Outcome.BOOKED]
    assert level(repo) == StockLevel.new("A", "w1", 5)


def test_order_larger_than_one_transaction_is_staged_and_rolls_back_whole(repo):
    from chalicelib.domain.processing import adjust_stock
    from chalicelib.domain.staged import commit_plan, items_needed
    from chalicelib.domain.stock_ops import Adjustment, audit_stock, ledger_balances

    clock = FixedClock()
    skus = [f"S{i:03d}" for i in range(120)]
    for sku in skus:
        adjust_stock(Adjustment(f"open-{sku}", sku, "w1", "receipt", 1, "opening"), repo, clock)
    big = event(order_id="big", lines=tuple((sku, 1) for sku in skus), delivery="big-1")
    plan = plan_event(big, None, repo.get_stock(skus), BookingContext(NOW))
    assert items_needed(plan) > 100

    # A plan whose last stock item no longer holds: every part applied so far rolls back.
    broken = replace(
        plan, stock_changes=(*plan.stock_changes[:-1], StockChange(skus[-1], "w1", reserved=5))
    )
    with pytest.raises(ConcurrentUpdate):
        commit_plan(repo, broken)
    assert all(level.reserved == 0 for level in repo.get_stock(skus).values())
    assert repo.get_event_outcome("mall#s1#big-1") is None

    commit_plan(repo, plan)
    assert all(level.reserved == 1 for level in repo.get_stock(skus).values())
    assert repo.get_event_outcome("mall#s1#big-1")["outcome"] == "booked"
    assert repo.get_order(plan.order.key) == plan.order
    levels = [lvl for lvl in repo.all_stock() if lvl.sku.startswith("S")]
    ledger = {k: v for k, v in ledger_balances(list(repo.ledger())).items() if k[0].startswith("S")}
    assert audit_stock(levels, ledger, [plan.order]) == []


# --- the stock-push outbox: flags set with each change to `available`, cleared by version


def clear_all(repo, sku):
    state = repo.read_push_state(sku)
    return repo.clear_push_pending(sku, {wh: state.versions[wh] for wh in state.pending})


def test_a_change_to_available_flags_the_item_once_per_sku(repo):
    for sku in ("A", "B"):
        clear_all(repo, sku)
    assert repo.pending_skus() == []
    repo.put_stock(StockLevel.new("A", "w2", 3))
    commit_new(repo, event(lines=(("A", 1),)))
    commit_new(repo, event(order_id="o-2", lines=(("A", 1),)))
    assert repo.pending_skus() == ["A"]
    state = repo.read_push_state("A")
    assert state.pending == {"w1", "w2"}
    assert {lv.warehouse: lv.available for lv in state.levels} == {"w1": 3, "w2": 3}
    assert state.versions["w1"] > 1


def test_a_move_that_leaves_available_alone_flags_nothing(repo):
    plan = commit_new(repo, event(lines=(("A", 2),)))
    clear_all(repo, "A")
    paid = event(status="paid", updated_at="2026-11-25T16:05:00+08:00", lines=(("A", 2),))
    repo.commit(plan_event(paid, plan.order, repo.get_stock(["A"]), BookingContext(NOW)))
    assert level(repo).locked == 2
    assert "A" not in repo.pending_skus()


def test_clearing_keeps_an_item_that_changed_since_it_was_read(repo):
    seen = repo.read_push_state("A")
    commit_new(repo, event(lines=(("A", 1),)))  # lands while the push is in flight
    assert repo.clear_push_pending("A", {"w1": seen.versions["w1"]}) == ["w1"]
    assert repo.pending_skus() == ["A", "B"]
    assert clear_all(repo, "A") == []
    assert repo.pending_skus() == ["B"]
    assert repo.pending_skus(limit=0) == []


def test_configuring_safety_stock_flags_and_limited_sale_state_is_kept(repo):
    clear_all(repo, "A")
    repo.configure_stock("A", "w1", 4, 0, [])
    assert repo.pending_skus()[0] == "A"
    assert not repo.read_push_state("A").limited_sale
    repo.record_limited_sale("A", True)
    state = repo.read_push_state("A")
    assert state.limited_sale and state.pending == {"w1"}  # recording moves no version
    assert clear_all(repo, "A") == []
    repo.record_limited_sale("A", False)
    assert not repo.read_push_state("A").limited_sale
