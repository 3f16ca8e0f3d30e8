"""A flash sale against the serialized emulator: 16 workers, one SKU with 100 in stock, 1,000
single-unit orders, each delivered twice. Exactly 100 are booked, 900 rejected with a reason,
available ends at 0, and the ledger explains every unit."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from chalicelib.domain.booking import BookingContext
from chalicelib.domain.model import Outcome
from chalicelib.domain.processing import adjust_stock, process_order_event
from chalicelib.domain.stock_ops import Adjustment, audit_stock, ledger_balances
from tests.builders import event
from tests.fakes import FixedClock

REGION = "us-east-1"
WORKERS = 16
ORDERS = 1000
STOCK = 100


def test_flash_sale_books_exactly_the_stock(emulated_stack):
    from chalicelib.deps import Container

    clock = FixedClock()
    repo = Container(environ=emulated_stack.environ, now=clock).orders
    adjust_stock(
        Adjustment("opening", "FLASH-1", "wh", "receipt", STOCK, "flash sale stock"), repo, clock
    )
    deliveries = [
        event(
            order_id=f"f{i}",
            lines=(("FLASH-1", 1),),
            delivery=f"d{i}",
            updated_at="2026-11-25T20:00:00+08:00",
        )
        for i in range(ORDERS)
    ] * 2

    def deliver(ev):
        return process_order_event(ev, repo, lambda: BookingContext(clock())).outcome

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        outcomes = Counter(pool.map(deliver, deliveries))

    assert outcomes[Outcome.BOOKED] == STOCK
    assert outcomes[Outcome.REJECTED_OUT_OF_STOCK] == ORDERS - STOCK
    assert outcomes[Outcome.DUPLICATE] + outcomes[Outcome.STALE] == ORDERS
    (level,) = repo.get_sku_levels("FLASH-1")
    assert (level.on_hand, level.reserved, level.available) == (STOCK, STOCK, 0)
    rejected = [
        o
        for o in (repo.get_order(f"mall#s1#f{i}") for i in range(ORDERS))
        if o.booking.value == "rejected_out_of_stock"
    ]
    assert len(rejected) == ORDERS - STOCK
    assert all("FLASH-1 needs 1" in o.reason for o in rejected)
    assert (
        audit_stock(
            repo.all_stock(), ledger_balances(list(repo.ledger())), list(repo.open_orders())
        )
        == []
    )
