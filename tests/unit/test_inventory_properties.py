"""Property: whatever the interleaving of platform events (late, twice, out of order), WMS
shipments, adjustments and expiries, after every step every bucket is >= 0, available equals
on_hand - locked - reserved, every balance equals its ledger sum, and locked/reserved equal
what the open orders hold."""

from __future__ import annotations

import contextlib

from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.domain.booking import BookingContext, merge_lines
from chalicelib.domain.errors import NotFound, StockConflict
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
)
from tests.builders import event
from tests.fakes import FakeOrderRepository, FixedClock

SKUS = ("A", "B", "C")
WAREHOUSES = {"east": Warehouse("east", "east", 1), "south": Warehouse("south", "south", 2)}
ORDERS = 4

# An order's life as the platform tells it: (status, minutes after 16:00, lines).
lines_strategy = st.lists(
    st.tuples(st.sampled_from(SKUS), st.integers(min_value=1, max_value=3)),
    min_size=1,
    max_size=3,
)
life_strategy = st.tuples(
    lines_strategy,  # as created
    lines_strategy,  # as updated
    st.sampled_from(["cancelled", "refunded", "paid"]),  # how it ends
)

operation = st.one_of(
    st.tuples(st.just("deliver"), st.integers(0, ORDERS - 1), st.integers(0, 4)),
    st.tuples(
        st.just("ship"), st.integers(0, ORDERS - 1), st.sampled_from(SKUS), st.integers(1, 3)
    ),
    st.tuples(
        st.just("adjust"),
        st.sampled_from(SKUS),
        st.sampled_from(list(WAREHOUSES)),
        st.sampled_from(["receipt", "count"]),
        st.integers(0, 6),
    ),
    st.tuples(st.just("ship_all"), st.integers(0, ORDERS - 1)),
    st.tuples(st.just("expire"), st.integers(1, 40)),
)


def script(order: int, life) -> list:
    created, updated, ending = life
    steps = [
        ("unpaid", 0, created),
        ("unpaid", 1, updated),
        ("paid", 2, updated),
        ("shipped", 3, updated),
        (ending, 4, updated),
    ]
    return [
        event(
            order_id=f"o{order}",
            status=status,
            updated_at=f"2026-11-25T16:{minute:02d}:00+08:00",
            lines=tuple(lines),
            delivery=f"o{order}-{i}",
        )
        for i, (status, minute, lines) in enumerate(steps)
    ]


def check(repo: FakeOrderRepository) -> None:
    for level in repo.all_stock():
        assert level.is_consistent(), level
    for order in repo.orders.values():  # nothing is held or shipped beyond what was ordered
        ordered = merge_lines(order.lines)
        for sku in {h.sku for h in order.holds}:
            taken = sum(h.held + h.shipped for h in order.holds if h.sku == sku)
            assert taken <= ordered.get(sku, 0) or not any(
                h.held for h in order.holds if h.sku == sku
            ), order
    drifts = audit_stock(
        repo.all_stock(), ledger_balances(list(repo.ledger())), list(repo.open_orders())
    )
    assert drifts == []


@settings(max_examples=300, deadline=None)
@example(  # the platform's "shipped" after the WMS shipped everything must not lock again
    lives=[([("A", 1)], [("A", 1)], "paid")] * ORDERS,
    split=False,
    ops=[("deliver", 0, 2), ("ship_all", 0), ("deliver", 0, 3)],
)
@given(
    lives=st.lists(life_strategy, min_size=ORDERS, max_size=ORDERS),
    split=st.booleans(),
    ops=st.lists(operation, min_size=1, max_size=60),
)
def test_invariants_hold_after_every_step(lives, split, ops):
    repo = FakeOrderRepository()
    clock = FixedClock()
    rules = StoreRules(reservation_minutes=20, allow_split=split)

    def context() -> BookingContext:
        return BookingContext(clock(), WAREHOUSES, rules)

    for i, sku in enumerate(SKUS):
        for wh in WAREHOUSES:
            adjust_stock(
                Adjustment(f"open-{sku}-{wh}", sku, wh, "receipt", 4 + 2 * i, "opening"),
                repo,
                clock,
            )
    events = [script(i, life) for i, life in enumerate(lives)]
    check(repo)
    for n, op in enumerate(ops):
        kind = op[0]
        if kind == "deliver":
            process_order_event(events[op[1]][op[2]], repo, context)
        elif kind == "ship":
            confirmation = OutboundConfirmation(
                f"c{n}", "mall", "s1", f"o{op[1]}", (ShippedLine(op[2], op[3]),)
            )
            # Refused with a reason or applied; the invariants below prove nothing half-applied.
            with contextlib.suppress(NotFound, StockConflict):
                ship_order(confirmation, repo, clock)
        elif kind == "ship_all":
            order = repo.get_order(f"mall#s1#o{op[1]}")
            locked = tuple(
                ShippedLine(h.sku, h.locked, h.warehouse)
                for h in (order.holds if order else ())
                if h.locked
            )
            if locked:
                ship_order(
                    OutboundConfirmation(f"c{n}", "mall", "s1", f"o{op[1]}", locked), repo, clock
                )
        elif kind == "adjust":
            _, sku, wh, adj_kind, qty = op
            if adj_kind == "receipt" and qty == 0:
                continue
            with contextlib.suppress(StockConflict):
                adjust_stock(Adjustment(f"a{n}", sku, wh, adj_kind, qty, "property"), repo, clock)
        else:
            clock.advance(minutes=op[1])
            for order in repo.orders_due_for_expiry(clock()):
                expire_reservation(order.key, repo, clock)
        check(repo)

    # Every event again, in order: duplicates all, nothing moves.
    before = {k: v for k, v in repo.stock.items()}
    for script_events in events:
        for ev in script_events:
            if ev.event_key in repo.events:
                process_order_event(ev, repo, context)
    assert repo.stock == before
