"""OrderHub's side of the reconciliation (`reconcile.OrderDays`): a store's orders of one
Beijing day, through the orders table's `placed_day` index (hash `platform#store#day`, range
`order_id`, projecting status, amount, currency and booking). A Query, paged by DynamoDB
(1 MB pages) and handed on one item at a time: never a scan, never the day held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from chalicelib.adapters.dynamo_models import Models
from chalicelib.domain.model import PlatformStatus, order_key
from chalicelib.domain.reconcile import LedgerRow, placed_day_key, report_day


class DynamoOrderDays:
    def __init__(self, models: Models) -> None:
        self._m = models

    def orders_of_day(self, platform: str, store: str, day: date) -> Iterator[LedgerRow]:
        index = self._m.orders.by_placed_day
        for item in index.query(placed_day_key(platform, store, day)):
            yield LedgerRow(
                item.order_id,
                PlatformStatus(item.status),
                Decimal(item.amount or "0"),
                item.currency or "",
                item.booking or "",
            )

    def placed_day(self, platform: str, store: str, order_id: str) -> date | None:
        try:
            item = self._m.orders.get(
                order_key(platform, store, order_id),
                attributes_to_get=["placed_day", "created_at"],
            )
        except self._m.orders.DoesNotExist:
            return None
        if item.placed_day:
            return date.fromisoformat(str(item.placed_day).rsplit("#", 1)[-1])
        # written before orders were dated: the day of its first booking
        return report_day(item.created_at) if item.created_at else None
