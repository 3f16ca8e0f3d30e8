"""Stock pushes and limited sales: the pure rules, and the run over in-memory fakes (outbox
coalescing, failures kept pending, changes during a push, one event per transition)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.booking import BookingContext
from chalicelib.domain.errors import ChannelRejected, TransientFailure
from chalicelib.domain.model import StockLevel
from chalicelib.domain.ports import Store
from chalicelib.domain.processing import adjust_stock, process_order_event
from chalicelib.domain.stock_ops import Adjustment
from chalicelib.domain.stock_push import (
    Transition,
    is_limited,
    plan_stock_push,
    push_stock_changes,
)
from tests.builders import event
from tests.fakes import FakeEventPublisher, FakeOrderRepository, FakeStockPush, FixedClock

SHOP, OUTLET, MARKET = (
    Store("mall", "shop", "s"),
    Store("mall", "outlet", "s"),
    Store("market", "m1", "s"),
)


def lvl(wh, available, safety=0, holdback=0, channels=(), sku="GIFT"):
    return replace(
        StockLevel.new(sku, wh, available, safety),
        holdback=holdback,
        holdback_channels=tuple(channels),
    )


def quantities(plan):
    return {(p.platform, p.store_id): p.quantity for p in plan.pushes}


# ----------------------------------------------------------------------------- the rules


def test_channels_see_the_sum_over_warehouses_less_holdback_kept_for_others():
    levels = [lvl("w1", 10, holdback=3, channels=["mall"]), lvl("w2", 5)]
    plan = plan_stock_push("GIFT", levels, [SHOP, MARKET], announced_limited=False)
    assert quantities(plan) == {("mall", "shop"): 15, ("market", "m1"): 12}
    assert (plan.limited, plan.transition) == (False, None)


def test_limited_sale_is_judged_on_the_skus_totals_across_warehouses():
    low_here_high_there = [lvl("w1", 1, safety=2), lvl("w2", 9, safety=2)]
    assert not plan_stock_push("GIFT", low_here_high_there, [SHOP], False).limited
    assert plan_stock_push("GIFT", [lvl("w1", 1, 2), lvl("w2", 3, 2)], [SHOP], False).limited
    assert [is_limited(a, s) for a, s in ((0, 0), (5, 0), (2, 2), (3, 2), (0, 2))] == [
        False,
        False,
        True,
        False,
        True,
    ]


def test_entering_a_limited_sale_splits_available_so_channels_cannot_oversell_together():
    levels = [lvl("w1", 3, safety=4, holdback=1, channels=["mall"])]
    plan = plan_stock_push("GIFT", levels, [MARKET, OUTLET, SHOP], announced_limited=False)
    assert plan.transition is Transition.LIMITED_SALE
    # holdback channels first (mall: outlet, shop), then market, capped at 2 for market
    assert quantities(plan) == {("mall", "outlet"): 1, ("mall", "shop"): 1, ("market", "m1"): 1}
    assert sum(quantities(plan).values()) <= plan.available


def test_a_share_never_exceeds_what_the_channel_may_sell():
    levels = [lvl("w1", 5, safety=5, holdback=4, channels=["mall"])]
    plan = plan_stock_push("GIFT", levels, [SHOP, MARKET], announced_limited=True)
    assert quantities(plan) == {("mall", "shop"): 4, ("market", "m1"): 1}
    assert plan.transition is None  # still limited, already announced


def test_at_zero_every_channel_gets_zero():
    plan = plan_stock_push("GIFT", [lvl("w1", 0, safety=2)], [SHOP, OUTLET], True)
    assert quantities(plan) == {("mall", "shop"): 0, ("mall", "outlet"): 0}
    assert plan.limited and plan.transition is None


def test_recovery_lifts_the_limited_sale_and_shows_everything_again():
    plan = plan_stock_push("GIFT", [lvl("w1", 12, safety=2)], [SHOP, OUTLET], True)
    assert plan.transition is Transition.LIMITED_SALE_LIFTED
    assert quantities(plan) == {("mall", "shop"): 12, ("mall", "outlet"): 12}


def test_sold_out_without_safety_stock_pushes_zero_and_announces_nothing():
    plan = plan_stock_push("GIFT", [lvl("w1", 0)], [SHOP], False)
    assert quantities(plan) == {("mall", "shop"): 0} and plan.transition is None


# ----------------------------------------------------------------------------- the run


class World:
    def __init__(self, on_hand=5, safety=2):
        self.clock = FixedClock()
        self.repo = FakeOrderRepository()
        self.client = FakeStockPush()
        self.publisher = FakeEventPublisher()
        self.stores = [SHOP, OUTLET]
        self.receive("GIFT", on_hand)
        self.repo.configure_stock("GIFT", "w1", safety, 0, [])
        self.orders = 0

    def receive(self, sku, quantity, adjustment_id=None):
        adjustment_id = adjustment_id or f"r-{sku}-{len(self.repo.events)}"
        adjust_stock(
            Adjustment(adjustment_id, sku, "w1", "receipt", quantity, "PO"), self.repo, self.clock
        )

    def book(self, quantity=1, sku="GIFT"):
        self.orders += 1
        ev = event(f"o-{self.orders}", lines=((sku, quantity),), store="shop")
        return process_order_event(ev, self.repo, lambda: BookingContext(self.clock()))

    def run(self, **kwargs):
        return push_stock_changes(
            self.repo, self.stores, self.client, self.publisher, self.clock, **kwargs
        )

    def pushed(self, sku="GIFT"):
        return [(p, s, q) for p, s, k, q in self.client.pushes if k == sku]


def test_a_burst_of_bookings_becomes_one_push_per_channel():
    world = World(on_hand=200, safety=0)
    world.run()
    world.client.pushes.clear()
    for _ in range(100):
        world.book()
    summary = world.run()
    assert world.pushed() == [("mall", "outlet", 100), ("mall", "shop", 100)]
    assert summary.pushed == 2 and summary.still_pending == [] and summary.events == []
    assert world.repo.pending_skus() == []
    assert world.run().pushed == 0  # nothing changed since: nothing to push


def test_a_payment_does_not_move_available_so_it_pushes_nothing():
    world = World(on_hand=10, safety=0)
    world.book(2)
    world.run()
    ev = event("o-1", status="paid", updated_at="2026-11-25T16:05:00+08:00", lines=(("GIFT", 2),))
    process_order_event(
        replace(ev, store="shop"), world.repo, lambda: BookingContext(world.clock())
    )
    assert world.repo.stock[("GIFT", "w1")].locked == 2
    assert world.repo.pending_skus() == []


def test_crossing_safety_stock_announces_once_and_pushes_the_reduced_quantity():
    world = World(on_hand=5, safety=2)
    world.run()
    world.client.pushes.clear()
    for _ in range(3):
        world.book()
    summary = world.run()
    assert world.pushed() == [("mall", "outlet", 1), ("mall", "shop", 1)]
    assert summary.events == [{"sku": "GIFT", "type": "LimitedSale"}]
    ((kind, detail),) = world.publisher.events
    assert kind == "LimitedSale"
    assert detail["available"] == 2 and detail["safety_stock"] == 2 and detail["limited"]
    assert {c["store"] for c in detail["pushed"]} == {"outlet", "shop"}
    world.book()
    world.book()
    world.run()
    assert world.pushed()[-2:] == [("mall", "outlet", 0), ("mall", "shop", 0)]
    assert len(world.publisher.events) == 1  # still limited: no second LimitedSale
    world.receive("GIFT", 10)
    world.run()
    assert world.pushed()[-2:] == [("mall", "outlet", 10), ("mall", "shop", 10)]
    assert [k for k, _ in world.publisher.events] == ["LimitedSale", "LimitedSaleLifted"]


def test_a_failing_channel_keeps_the_sku_pending_without_blocking_others():
    world = World(on_hand=5, safety=0)
    world.receive("TEA", 7)
    world.client.fail("mall", "outlet")
    summary = world.run()
    assert ("mall", "shop", 5) in world.pushed("GIFT")
    assert summary.retry_later and summary.still_pending == ["GIFT", "TEA"]
    assert world.repo.pending_skus() == ["GIFT", "TEA"]
    world.client.failing.clear()
    world.client.pushes.clear()
    summary = world.run()
    assert sorted(world.client.pushes) == [
        ("mall", "outlet", "GIFT", 5),
        ("mall", "outlet", "TEA", 7),
        ("mall", "shop", "GIFT", 5),
        ("mall", "shop", "TEA", 7),
    ]
    assert summary.still_pending == [] and world.repo.pending_skus() == []


def test_an_error_on_one_sku_does_not_stop_the_others():
    world = World(on_hand=5, safety=0)
    world.receive("TEA", 7)
    real = world.repo.read_push_state

    def broken(sku):
        if sku == "GIFT":
            raise RuntimeError("table unreachable")
        return real(sku)

    world.repo.read_push_state = broken
    summary = world.run()
    assert summary.errors == ["GIFT: RuntimeError: table unreachable"]
    assert {s for _, s, k, _ in world.client.pushes if k == "TEA"} == {"shop", "outlet"}
    assert world.repo.pending_skus() == ["GIFT"]


def test_a_change_committed_during_the_push_stays_pending_for_the_next_run():
    world = World(on_hand=10, safety=0)
    world.client.during_push = lambda: (world.book(), setattr(world.client, "during_push", None))
    summary = world.run()
    assert summary.still_pending == ["GIFT"]
    assert world.repo.pending_skus() == ["GIFT"]
    world.run()
    assert world.pushed()[-2:] == [("mall", "outlet", 9), ("mall", "shop", 9)]
    assert world.repo.pending_skus() == []


def test_an_unpublished_transition_is_retried_with_its_pushes():
    world = World(on_hand=2, safety=2)
    world.publisher.error = TransientFailure("EventBridge down")
    summary = world.run()
    assert summary.errors and summary.still_pending == ["GIFT"]
    assert not world.repo.read_push_state("GIFT").limited_sale
    world.publisher.error = None
    assert world.run().events == [{"sku": "GIFT", "type": "LimitedSale"}]
    assert world.repo.read_push_state("GIFT").limited_sale
    assert world.repo.pending_skus() == []


def test_a_channel_that_refuses_for_good_opens_an_anomaly_and_is_not_retried():
    world = World(on_hand=5, safety=0)
    world.client.fail("mall", "outlet", ChannelRejected("mall/outlet answered 404"))
    summary = world.run()
    assert summary.rejected == ["GIFT -> mall/outlet: mall/outlet answered 404"]
    anomaly = world.repo.get_anomaly("stock_push_rejected", "GIFT#mall#outlet")
    assert anomaly["priority"] == "P2"
    assert world.repo.pending_skus() == []


def test_a_run_out_of_time_leaves_the_rest_pending():
    world = World(on_hand=5, safety=0)
    summary = world.run(has_time=lambda: False)
    assert summary.still_pending == ["GIFT"] and world.client.pushes == []


def test_max_skus_bounds_one_run():
    world = World(on_hand=5, safety=0)
    world.receive("TEA", 1)
    assert world.run(max_skus=1).skus == 1
    assert world.repo.pending_skus() == ["TEA"]


@pytest.mark.parametrize("stores", [[], [SHOP]])
def test_no_or_one_channel_still_clears_the_outbox(stores):
    world = World(on_hand=5, safety=0)
    world.stores = stores
    world.run()
    assert world.repo.pending_skus() == []


class ClaimingRepository(FakeOrderRepository):
    """An outbox that claims transitions, as DynamoOrderRepository does (conditional write)."""

    def claim_limited_sale(self, sku, limited):
        states = [v for (s, _), v in self.limited_sale.items() if s == sku]
        if any(v == limited for v in states):
            return False
        self.record_limited_sale(sku, limited)
        return True


def test_two_overlapping_runs_announce_a_transition_once():
    world = World(on_hand=2, safety=2)
    world.repo.__class__ = ClaimingRepository
    state = world.repo.read_push_state("GIFT")  # both runs read before either records
    world.repo.read_push_state = lambda sku: state
    first, second = world.run(), world.run()
    assert first.events == [{"sku": "GIFT", "type": "LimitedSale"}] and second.events == []
    assert [kind for kind, _ in world.publisher.events] == ["LimitedSale"]


def test_a_claimed_transition_that_cannot_be_published_is_announced_by_the_next_run():
    world = World(on_hand=2, safety=2)
    world.repo.__class__ = ClaimingRepository
    world.publisher.error = TransientFailure("EventBridge down")
    assert world.run().still_pending == ["GIFT"]
    assert not world.repo.read_push_state("GIFT").limited_sale
    world.publisher.error = None
    assert world.run().events == [{"sku": "GIFT", "type": "LimitedSale"}]


def test_credentials_refused_open_one_anomaly_for_the_store_not_one_per_sku():
    from chalicelib.domain.errors import ChannelCredentialsRejected

    world = World(on_hand=5, safety=0)
    world.receive("TEA", 7)
    world.client.fail("mall", "outlet", ChannelCredentialsRejected("token revoked. Fix: renew it"))
    summary = world.run()
    assert len(summary.rejected) == 2
    anomaly = world.repo.get_anomaly("stock_push_rejected", "*#mall#outlet")
    assert anomaly["priority"] == "P2" and "renew" in anomaly["detail"]
    assert world.repo.get_anomaly("stock_push_rejected", "GIFT#mall#outlet") is None
