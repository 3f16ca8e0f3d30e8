"""Allocation, holdback, backorders, shipments, adjustments, expiry, refunds and the audit:
the inventory rules, each from a plain starting state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.booking import BookingContext, plan_event
from chalicelib.domain.errors import InvalidPayload, NotFound, StockConflict
from chalicelib.domain.model import Booking, Outcome, StockLevel
from chalicelib.domain.ports import StoreRules, Warehouse
from chalicelib.domain.processing import (
    adjust_stock,
    expire_reservation,
    process_order_event,
    ship_order,
)
from chalicelib.domain.stock_ops import (
    Adjustment,
    OutboundConfirmation,
    ShippedLine,
    audit_stock,
    ledger_balances,
    parse_adjustment,
    parse_outbound_confirmation,
)
from tests.builders import event
from tests.fakes import FakeOrderRepository, FixedClock

WAREHOUSES = {
    "east-1": Warehouse("east-1", "east", 1),
    "south-1": Warehouse("south-1", "south", 2),
}


class World:
    def __init__(self, rules: StoreRules | None = None) -> None:
        self.repo = FakeOrderRepository()
        self.clock = FixedClock()
        self.rules = rules or StoreRules()

    def receive(self, sku: str, warehouse: str, quantity: int) -> None:
        adjustment = Adjustment(
            f"r-{sku}-{warehouse}-{quantity}-{len(self.repo.events)}",
            sku,
            warehouse,
            "receipt",
            quantity,
            "test receipt",
        )
        assert adjust_stock(adjustment, self.repo, self.clock).outcome is Outcome.BOOKED

    def send(self, **kwargs):
        ev = event(**kwargs)
        return process_order_event(ev, self.repo, self.context)

    def context(self) -> BookingContext:
        return BookingContext(self.clock(), WAREHOUSES, self.rules)

    def level(self, sku: str, warehouse: str) -> StockLevel:
        return self.repo.stock[(sku, warehouse)]

    def order(self, order_id: str = "o-1"):
        return self.repo.get_order(f"mall#s1#{order_id}")

    def drifts(self):
        return audit_stock(
            self.repo.all_stock(),
            ledger_balances(list(self.repo.ledger())),
            list(self.repo.open_orders()),
        )


def test_region_match_wins_over_priority():
    w = World()
    w.receive("A", "east-1", 5)
    w.receive("A", "south-1", 5)
    ev = event(lines=(("A", 1),))
    from dataclasses import replace

    result = process_order_event(replace(ev, region="south"), w.repo, w.context)
    assert result.outcome is Outcome.BOOKED
    assert w.order().holds[0].warehouse == "south-1"


def test_no_single_warehouse_rejects_unless_store_allows_split():
    for rules, outcome in (
        (StoreRules(), Outcome.REJECTED_OUT_OF_STOCK),
        (StoreRules(allow_split=True), Outcome.BOOKED),
    ):
        w = World(rules)
        w.receive("A", "east-1", 2)
        w.receive("A", "south-1", 2)
        assert w.send(lines=(("A", 3),)).outcome is outcome
    assert sorted((h.warehouse, h.reserved) for h in w.order().holds) == [
        ("east-1", 2),
        ("south-1", 1),
    ]
    assert w.drifts() == []


def test_rejection_opens_one_p0_anomaly_and_books_nothing():
    w = World()
    w.receive("A", "east-1", 1)
    assert w.send(lines=(("A", 2),)).outcome is Outcome.REJECTED_OUT_OF_STOCK
    anomaly = w.repo.get_anomaly("out_of_stock", "mall#s1#o-1")
    assert anomaly["priority"] == "P0" and "A needs 2" in anomaly["detail"]
    assert w.level("A", "east-1") == StockLevel.new("A", "east-1", 1)


def test_backorder_store_accepts_without_holding():
    w = World(StoreRules(out_of_stock="backorder"))
    w.receive("A", "east-1", 1)
    assert w.send(lines=(("A", 2),)).outcome is Outcome.BACKORDERED
    assert w.order().booking is Booking.BACKORDERED and w.order().holds == ()
    w.receive("A", "east-1", 5)
    paid = w.send(status="paid", updated_at="2026-11-25T17:00:00+08:00", lines=(("A", 2),))
    assert paid.outcome is Outcome.BOOKED and w.order().booking is Booking.LOCKED


def test_holdback_keeps_stock_for_priority_channels():
    w = World()
    w.receive("A", "east-1", 5)
    w.repo.configure_stock("A", "east-1", 0, 3, ["tmall"])
    assert w.send(lines=(("A", 3),)).outcome is Outcome.REJECTED_OUT_OF_STOCK
    assert w.send(order_id="o-2", lines=(("A", 2),)).outcome is Outcome.BOOKED
    vip = w.send(order_id="o-3", platform="tmall", lines=(("A", 3),))
    assert vip.outcome is Outcome.BOOKED
    assert w.level("A", "east-1").available == 0


def test_holdback_is_part_of_the_commit_condition():
    w = World()
    w.receive("A", "east-1", 5)
    w.repo.configure_stock("A", "east-1", 0, 3, ["tmall"])
    plan = plan_event(event(lines=(("A", 2),)), None, w.repo.get_stock(["A"]), w.context())
    assert plan.stock_changes[0].min_available == 2 + 3


def test_shipments_partial_then_complete():
    w = World()
    w.receive("A", "east-1", 5)
    w.send(status="paid", lines=(("A", 3),))

    def ship(cid, qty):
        return ship_order(
            OutboundConfirmation(cid, "mall", "s1", "o-1", (ShippedLine("A", qty),)),
            w.repo,
            w.clock,
        )

    assert ship("c1", 1).outcome is Outcome.BOOKED
    assert (w.level("A", "east-1").on_hand, w.level("A", "east-1").locked) == (4, 2)
    assert ship("c1", 1).outcome is Outcome.DUPLICATE  # redelivered confirmation
    assert ship("c2", 2).outcome is Outcome.BOOKED
    assert w.order().booking is Booking.SHIPPED
    level = w.level("A", "east-1")
    assert (level.on_hand, level.locked, level.available) == (2, 0, 2)
    with pytest.raises(StockConflict):
        ship("c3", 1)
    # The platform's later "shipped" status must not lock the shipped units again.
    w.receive("A", "east-1", 5)
    w.send(status="shipped", updated_at="2026-11-25T18:00:00+08:00", lines=(("A", 3),))
    assert w.level("A", "east-1").locked == 0
    assert w.order().booking is Booking.SHIPPED
    assert w.drifts() == []


def test_shipping_an_unknown_order_is_not_found():
    w = World()
    with pytest.raises(NotFound, match="o-9"):
        ship_order(
            OutboundConfirmation("c1", "mall", "s1", "o-9", (ShippedLine("A", 1),)), w.repo, w.clock
        )


def test_count_sets_on_hand_but_never_below_committed():
    w = World()
    w.receive("A", "east-1", 10)
    w.send(lines=(("A", 4),))
    count = Adjustment("n1", "A", "east-1", "count", 6, "cycle count aisle 3")
    assert adjust_stock(count, w.repo, w.clock).outcome is Outcome.BOOKED
    assert (w.level("A", "east-1").on_hand, w.level("A", "east-1").available) == (6, 2)
    with pytest.raises(StockConflict, match="below the 4 units"):
        adjust_stock(Adjustment("n2", "A", "east-1", "count", 3, "recount"), w.repo, w.clock)
    assert w.drifts() == []


def test_unpaid_reservation_expires_and_payment_books_again():
    w = World(StoreRules(reservation_minutes=15))
    w.receive("A", "east-1", 2)
    w.send(lines=(("A", 2),))
    assert w.repo.orders_due_for_expiry(w.clock()) == []
    w.clock.advance(minutes=16)
    (due,) = w.repo.orders_due_for_expiry(w.clock())
    assert expire_reservation(due.key, w.repo, w.clock).outcome is Outcome.BOOKED
    assert w.order().booking is Booking.EXPIRED
    assert w.level("A", "east-1").available == 2
    assert expire_reservation(due.key, w.repo, w.clock).outcome is Outcome.IGNORED
    paid = w.send(status="paid", updated_at="2026-11-25T17:00:00+08:00", lines=(("A", 2),))
    assert paid.outcome is Outcome.BOOKED and w.level("A", "east-1").locked == 2
    assert w.drifts() == []


def test_refund_releases_what_is_held():
    w = World()
    w.receive("A", "east-1", 2)
    w.send(status="paid", lines=(("A", 2),))
    w.send(status="refunded", updated_at="2026-11-25T17:00:00+08:00", lines=(("A", 2),))
    assert w.order().booking is Booking.RELEASED
    assert w.level("A", "east-1") == StockLevel.new("A", "east-1", 2)


def test_table_mapped_store_books_mapped_skus_and_holds_unmapped():
    w = World(StoreRules(sku_mapping="table"))
    w.receive("A", "east-1", 2)
    mapping = {"CH-A": "A"}
    ev = event(lines=(("CH-A", 1),))
    assert process_order_event(ev, w.repo, w.context, mapping.get).outcome is Outcome.BOOKED
    unknown = process_order_event(
        event(order_id="o-2", lines=(("CH-Z", 1),)), w.repo, w.context, mapping.get
    )
    assert unknown.outcome is Outcome.NEEDS_ATTENTION
    assert "CH-Z" in unknown.reason
    assert w.repo.get_anomaly("unknown_sku", "mall#s1#o-2")["priority"] == "P1"


def test_audit_finds_drift_from_a_write_that_bypassed_the_ledger():
    w = World()
    w.receive("A", "east-1", 5)
    w.send(lines=(("A", 2),))
    assert w.drifts() == []
    level = w.level("A", "east-1")
    from dataclasses import replace

    w.repo.put_stock(replace(level, reserved=level.reserved + 1, available=level.available - 1))
    drifts = {(d.bucket, d.source) for d in w.drifts()}
    assert drifts == {("reserved", "ledger"), ("available", "ledger"), ("reserved", "open orders")}


def test_request_parsers_name_the_field():
    with pytest.raises(InvalidPayload, match=r"lines\[0\]\.quantity"):
        parse_outbound_confirmation(
            {
                "confirmation_id": "c",
                "platform": "mall",
                "store": "s",
                "order_id": "o",
                "lines": [{"sku": "A", "quantity": 0}],
            }
        )
    with pytest.raises(InvalidPayload, match="reason"):
        parse_adjustment(
            "A",
            {
                "adjustment_id": "a",
                "warehouse": "w",
                "kind": "receipt",
                "quantity": 1,
                "reason": " ",
            },
        )
    with pytest.raises(InvalidPayload, match="kind"):
        parse_adjustment(
            "A",
            {"adjustment_id": "a", "warehouse": "w", "kind": "theft", "quantity": 1, "reason": "x"},
        )
    assert (
        parse_adjustment(
            "A",
            {
                "adjustment_id": "a",
                "warehouse": "w",
                "kind": "count",
                "quantity": 0,
                "reason": "empty shelf",
            },
        ).quantity
        == 0
    )


def test_expiry_is_not_due_before_its_time():
    w = World()
    w.receive("A", "east-1", 2)
    w.send(lines=(("A", 1),))
    assert w.order().reserved_until == w.clock() + timedelta(minutes=30)
    assert expire_reservation(w.order().key, w.repo, w.clock).outcome is Outcome.IGNORED
    assert w.order().booking is Booking.RESERVED
    assert datetime.now(UTC)  # clock is injected; wall time is irrelevant


def test_thin_event_moves_the_orders_own_lines():
    """TikTok/Douyin send a status without lines: a payment locks what the order reserved, a
    cancel releases it; with no order yet it waits for details instead of guessing."""
    from dataclasses import replace

    w = World()
    w.receive("A", "east-1", 5)
    thin_first = replace(
        event(order_id="t-0", status="paid", lines=()), complete=False, currency=""
    )
    waiting = process_order_event(thin_first, w.repo, w.context)
    assert waiting.outcome is Outcome.NEEDS_ATTENTION
    assert w.repo.get_anomaly("order_details_missing", "mall#s1#t-0")["priority"] == "P1"
    assert w.level("A", "east-1").available == 5

    w.send(lines=(("A", 2),))
    paid = replace(
        event(status="paid", updated_at="2026-11-25T16:05:00+08:00", lines=()),
        complete=False,
        currency="",
    )
    assert process_order_event(paid, w.repo, w.context).outcome is Outcome.BOOKED
    assert w.level("A", "east-1").locked == 2 and w.order().lines[0].sku == "A"
    cancel = replace(
        event(status="cancelled", updated_at="2026-11-25T16:09:00+08:00", lines=()),
        complete=False,
        currency="",
    )
    process_order_event(cancel, w.repo, w.context)
    assert w.level("A", "east-1") == StockLevel.new("A", "east-1", 5)
    assert w.drifts() == []
