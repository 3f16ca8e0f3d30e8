"""One contract for the console's order search, run against the in-memory fake and the
DynamoDB adapter (moto, tables from infra/resources.json): the same pages, in the same order,
through the same cursors, whichever index answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.adapters.dynamo import _item_from_order
from chalicelib.adapters.order_search import DynamoOrderSearch
from chalicelib.domain.blind_index import phone_index
from chalicelib.domain.model import Booking, Buyer, Order, OrderLine, PlatformStatus
from chalicelib.domain.order_search import DAY_BUDGET, parse_filters, search_orders
from tests.console_fakes import FakeOrderSearch
from tests.fakes import FakeOrderRepository

KEY = b"contract-key-" * 3
NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)  # 12:00 Beijing
TODAY = date(2026, 11, 25)


def order(n: int, store: str, placed: datetime, status: str = "paid", phone: str = "") -> Order:
    return Order(
        platform=store.split("/")[0],
        store=store.split("/")[1],
        order_id=f"A{n:04d}",
        status=PlatformStatus(status),
        booking=Booking.LOCKED if status == "paid" else Booking.RESERVED,
        updated_at=placed,
        updated_at_raw=placed.isoformat(),
        currency="CNY",
        lines=(OrderLine("SKU-A", 1, Decimal("10")),),
        buyer=Buyer("L*", "138****0000", "Shanghai", phone_index=phone_index(KEY, phone))
        if phone
        else None,
        holds=(),
        version=1,
        created_at=placed,
        placed_at=placed,
    )


@pytest.fixture(params=["fake", "dynamodb"])
def backend(request) -> tuple[Callable[[Order], None], object]:
    if request.param == "fake":
        repo = FakeOrderRepository()

        def save_fake(o: Order) -> None:
            repo.orders[o.key] = o

        return save_fake, FakeOrderSearch(repo)
    container = request.getfixturevalue("container")
    models = container.models

    def save(o: Order) -> None:
        _item_from_order(models, o).save()

    return save, DynamoOrderSearch(container._search_models[0])


def pages(reads, params: dict[str, str]) -> list[list[str]]:
    filters = parse_filters(params)
    found, cursor = [], ""
    for _ in range(20):
        page = search_orders(filters, cursor, TODAY, reads)
        found.append([r.order_id for r in page.rows])
        if not page.next_cursor:
            return found
        cursor = page.next_cursor
    raise AssertionError("more than 20 pages")


def listed(reads, params: dict[str, str]) -> list[str]:
    """Every order the pages list, in order (a page may be empty when a day budget ran out:
    its cursor still goes on)."""
    return [i for page in pages(reads, params) for i in page]


def test_newest_first_across_stores_paged_by_cursor(backend):
    save, reads = backend
    stores = ["mall/demo-shop", "shopify/demo-shopify", "mall/outlet-shop"]
    for n in range(9):
        save(order(n, stores[n % 3], NOW - timedelta(hours=7 * n)))
    got = pages(reads, {"limit": "4"})
    assert [i for page in got for i in page] == [f"A{n:04d}" for n in range(9)]
    assert [len(p) for p in got] == [4, 4, 1, 0, 0]  # 31 days, 14 days a page at most
    assert listed(reads, {"platform": "shopify"}) == ["A0001", "A0004", "A0007"]
    assert pages(reads, {"store": "mall/outlet-shop", "limit": "2"}) == [
        ["A0002", "A0005"],
        ["A0008"],
    ]


def test_filters_by_status_and_beijing_days(backend):
    save, reads = backend
    save(order(1, "mall/demo-shop", datetime(2026, 11, 24, 15, 59, tzinfo=UTC)))  # 23:59 BJ
    save(order(2, "mall/demo-shop", datetime(2026, 11, 24, 16, 0, tzinfo=UTC), "unpaid"))
    save(order(3, "mall/demo-shop", datetime(2026, 11, 23, 1, 0, tzinfo=UTC)))
    day = {"from": "2026-11-24", "to": "2026-11-24"}
    assert pages(reads, day) == [["A0001"]]
    assert pages(reads, {"from": "2026-11-25"}) == [["A0002"]]
    assert listed(reads, {"status": "paid"}) == ["A0001", "A0003"]
    assert pages(reads, {"store": "mall/demo-shop", **day}) == [["A0001"]]


def test_order_id_prefix_ascending_across_stores(backend):
    save, reads = backend
    for n, store in [(11, "mall/demo-shop"), (12, "shopify/demo-shopify"), (13, "mall/demo-shop")]:
        save(order(n, store, NOW - timedelta(days=n)))
    save(order(21, "mall/demo-shop", NOW))
    assert pages(reads, {"order_id": "A001", "limit": "2"}) == [["A0011", "A0012"], ["A0013"]]
    assert pages(reads, {"order_id": "A001", "platform": "mall"}) == [["A0011", "A0013"]]
    assert pages(reads, {"order_id": "B0"}) == [[]]


def test_buyer_by_phone_index_only(backend):
    save, reads = backend
    save(order(1, "mall/demo-shop", NOW - timedelta(days=3), phone="13812345678"))
    save(order(2, "shopify/demo-shopify", NOW - timedelta(days=1), phone="+86 138 1234 5678"))
    save(order(3, "mall/demo-shop", NOW, phone="13900000000"))
    buyer = phone_index(KEY, "138-1234-5678")
    assert pages(reads, {"buyer": buyer}) == [["A0002", "A0001"]]
    assert pages(reads, {"buyer": buyer, "platform": "mall"}) == [["A0001"]]


def test_a_page_stops_after_its_day_budget_and_resumes(backend):
    save, reads = backend
    save(order(1, "mall/demo-shop", NOW))
    save(order(2, "mall/demo-shop", NOW - timedelta(days=DAY_BUDGET + 5)))
    got = pages(reads, {})
    assert got[0] == ["A0001"] and [i for p in got for i in p] == ["A0001", "A0002"]
    assert len(got) == 3  # 31 days: 14, 14, 3


def test_platform_and_statuses_merge_newest_first_over_any_days(backend):
    save, reads = backend
    statuses = ["paid", "unpaid", "shipped", "cancelled"]
    for n in range(12):  # one every 5 days: past the 31-day window of the day indexes
        store = "mall/demo-shop" if n % 3 else "shopify/demo-shopify"
        save(order(n, store, NOW - timedelta(days=5 * n), statuses[n % 4]))
    wanted = ["A0001", "A0002", "A0005", "A0010"]  # mall's unpaid and shipped, newest first
    assert pages(reads, {"platform": "mall", "status": "unpaid,shipped", "limit": "3"}) == [
        wanted[:3],
        wanted[3:],
    ]
    assert listed(reads, {"platform": "mall", "status": "paid"}) == ["A0004", "A0008"]
    bounded = {"platform": "mall", "status": "shipped,unpaid", "from": "2026-10-31"}
    assert listed(reads, bounded) == ["A0001", "A0002", "A0005"]
    booked = {"platform": "mall", "status": "unpaid,shipped", "booking": "locked"}
    assert listed(reads, booked) == []  # unpaid and shipped are reserved in `order()`
