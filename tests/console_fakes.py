"""In-memory fakes of the console's read ports (adapters/order_search.py), over the fake
order repository's orders and stock: the same filters, order and paging as the indexes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chalicelib.domain.model import Order, StockLevel
from chalicelib.domain.order_search import (
    BY_BUYER,
    BY_ORDER_ID,
    DAY_INDEXES,
    OrderRow,
    SearchFilters,
    created_day,
    created_sort_key,
    store_ref,
)
from chalicelib.domain.reconcile import order_amount
from chalicelib.domain.stock_list import is_low
from tests.report_fakes import FakeOrderDays


def row_of(order: Order, index: str) -> OrderRow:
    placed = order.placed_at or order.created_at or order.updated_at
    created = created_sort_key(placed, order.order_id)
    ref = store_ref(order.platform, order.store)
    return OrderRow(
        platform=order.platform,
        store=order.store,
        order_id=order.order_id,
        status=order.status.value,
        booking=order.booking.value,
        placed_at=placed.isoformat(),
        updated_at=order.updated_at.isoformat(),
        amount=str(order_amount(order.lines)),
        currency=order.currency,
        reason=order.reason,
        sort_key=created if index != BY_ORDER_ID else f"{order.order_id}\n{ref}",
    )


class FakeOrderSearch:
    """The same contract as DynamoOrderSearch: one index's rows after `after`."""

    def __init__(self, orders: Any) -> None:
        self._orders = orders  # FakeOrderRepository

    def search(
        self, filters: SearchFilters, after: str, limit: int, day: str = ""
    ) -> list[OrderRow]:
        low, high = filters.created_range()
        rows = []
        for order in list(self._orders.orders.values()):
            placed = order.placed_at or order.created_at or order.updated_at
            row = row_of(order, filters.index)
            created = created_sort_key(placed, order.order_id)
            ref = store_ref(order.platform, order.store)
            if filters.index == BY_BUYER and (
                not order.buyer or order.buyer.phone_index != filters.buyer
            ):
                continue
            if filters.index == BY_ORDER_ID and not order.order_id.startswith(
                filters.order_id_prefix
            ):
                continue
            if filters.index in DAY_INDEXES and created_day(placed) != day:
                continue
            if filters.store and ref != store_ref(filters.platform, filters.store):
                continue
            if filters.platform and order.platform != filters.platform:
                continue
            if not low <= created <= high:
                continue
            if filters.statuses and row.status not in filters.statuses:
                continue
            if filters.bookings and row.booking not in filters.bookings:
                continue
            rows.append(row)
        descending = filters.index != BY_ORDER_ID
        rows.sort(key=lambda r: r.sort_key, reverse=descending)
        if after:
            rows = [r for r in rows if (r.sort_key < after if descending else r.sort_key > after)]
        return rows[:limit]


class FakeStockList:
    def __init__(self, orders: Any) -> None:
        self._orders = orders

    def page(
        self, after_sku: str, limit: int, low_stock: bool, sku_prefix: str
    ) -> list[StockLevel]:
        levels = sorted(self._orders.stock.values(), key=lambda lvl: (lvl.sku, lvl.warehouse))
        found: list[StockLevel] = []
        skus: list[str] = []
        for level in levels:
            if level.sku <= after_sku or not level.sku.startswith(sku_prefix):
                continue
            if low_stock and not is_low(level):
                continue
            if not skus or skus[-1] != level.sku:
                if len(skus) == limit:
                    break
                skus.append(level.sku)
            found.append(level)
        return found


class FakePushRecords:
    def __init__(self) -> None:
        self.records: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}

    def record(self, sku: str, platform: str, store: str, quantity: int, at: datetime) -> None:
        self.records.setdefault(sku, {})[(platform, store)] = {
            "platform": platform,
            "store": store,
            "quantity": quantity,
            "at": at.isoformat(),
        }

    def last_pushed(self, skus: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        return {
            sku: [v for _, v in sorted(self.records[sku].items())]
            for sku in skus
            if sku in self.records
        }


class LiveOrderDays(FakeOrderDays):
    """FakeOrderDays over the fake repository's orders as they are now."""

    def __init__(self, repository: Any) -> None:  # no snapshot: read the repository live
        self._repository = repository

    @property  # type: ignore[override]
    def orders(self) -> dict[tuple[str, str, str], Order]:
        return {(o.platform, o.store, o.order_id): o for o in self._repository.orders.values()}
