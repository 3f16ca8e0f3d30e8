"""In-memory fakes of the domain's ports. The contract tests run the same suite against these and
the DynamoDB adapters, so a fake cannot drift from the real thing."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.errors import AlreadyProcessed, ConcurrentUpdate
from chalicelib.domain.model import BookingPlan, EventRecord, Order, StockLevel
from chalicelib.domain.ports import Store, Warehouse


class FakeOrderRepository:
    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.stock: dict[tuple[str, str], StockLevel] = {}
        self.events: dict[str, EventRecord] = {}
        self.commits = 0
        self._lock = threading.Lock()

    def put_stock(self, level: StockLevel) -> None:
        self.stock[(level.sku, level.warehouse)] = level

    def get_order(self, key: str) -> Order | None:
        return self.orders.get(key)

    def get_stock(self, skus: Iterable[str]) -> dict[tuple[str, str], StockLevel]:
        wanted = set(skus)
        return {k: v for k, v in self.stock.items() if k[0] in wanted}

    def get_sku_levels(self, sku: str) -> list[StockLevel]:
        return [v for k, v in self.stock.items() if k[0] == sku]

    def get_event_outcome(self, event_key: str) -> Mapping[str, Any] | None:
        record = self.events.get(event_key)
        if record is None:
            return None
        return {
            "event_key": record.event_key,
            "order_key": record.order_key,
            "outcome": record.outcome.value,
            "reason": record.reason,
            "processed_at": record.processed_at.isoformat(),
        }

    def commit(self, plan: BookingPlan) -> None:
        with self._lock:
            if plan.record.event_key in self.events:
                raise AlreadyProcessed("event record exists")
            if plan.order is not None:
                stored = self.orders.get(plan.order.key)
                version = stored.version if stored else 0
                if version != plan.expected_version:
                    raise ConcurrentUpdate("order version moved")
            updated = {}
            for change in plan.stock_changes:
                level = self.stock.get((change.sku, change.warehouse))
                if level is None:
                    raise ConcurrentUpdate(f"no stock item {change.sku}@{change.warehouse}")
                new = level.apply(change)
                if min(new.on_hand, new.locked, new.reserved, new.available) < 0:
                    raise ConcurrentUpdate(f"stock {change.sku}@{change.warehouse} changed")
                updated[(change.sku, change.warehouse)] = new
            self.events[plan.record.event_key] = plan.record
            if plan.order is not None:
                self.orders[plan.order.key] = plan.order
            self.stock.update(updated)
            self.commits += 1


class FakeCatalog:
    def __init__(self) -> None:
        self.stores: dict[tuple[str, str], Store] = {}
        self.warehouses: dict[str, Warehouse] = {}
        self.api_keys: dict[str, dict[str, Any]] = {}

    def get_store(self, platform: str, store_id: str) -> Store | None:
        return self.stores.get((platform, store_id))

    def put_store(self, store: Store) -> None:
        self.stores[(store.platform, store.store_id)] = store

    def list_warehouses(self) -> list[Warehouse]:
        return sorted(self.warehouses.values(), key=lambda w: w.warehouse_id)

    def put_warehouse(self, warehouse: Warehouse) -> None:
        self.warehouses[warehouse.warehouse_id] = warehouse

    def get_api_key(self, key_hash: str) -> Mapping[str, Any] | None:
        return self.api_keys.get(key_hash)

    def put_api_key(self, key_hash: str, record: Mapping[str, Any]) -> None:
        self.api_keys[key_hash] = dict(record)


class FakeSecrets:
    def __init__(self, secrets: dict[str, dict[str, Any]] | None = None) -> None:
        self.secrets = secrets or {}

    def get_secret(self, name: str) -> Mapping[str, Any]:
        return self.secrets[name]


class FakeQueue:
    def __init__(self) -> None:
        self.messages: list[tuple[dict[str, Any], str]] = []

    def send(self, body: Mapping[str, Any], correlation_id: str) -> str:
        self.messages.append((dict(body), correlation_id))
        return f"msg-{len(self.messages)}"


class FixedClock:
    def __init__(self, moment: datetime | None = None) -> None:
        self.moment = moment or datetime(2026, 11, 25, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.moment = self.moment + timedelta(**delta)


def with_stock(repo: Any, sku: str, warehouse: str, on_hand: int) -> None:
    repo.put_stock(StockLevel.new(sku, warehouse, on_hand))
