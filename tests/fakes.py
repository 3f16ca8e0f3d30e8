"""In-memory fakes of the domain's ports. The contract tests run the same suite against these and
the DynamoDB adapters, so a fake cannot drift from the real thing."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.archive import batch_document, batch_member, split_archive_key
from chalicelib.domain.errors import AlreadyProcessed, ChannelUnavailable, ConcurrentUpdate
from chalicelib.domain.model import (
    Anomaly,
    BookingPlan,
    EventRecord,
    Order,
    StockChange,
    StockLevel,
)
from chalicelib.domain.notices import Notice
from chalicelib.domain.ports import SkuPushState, Store, Warehouse
from tests import anomaly_fakes


class FakeOrderRepository:
    """Same contract as DynamoOrderRepository (tests/integration/test_repository_contract.py)."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.stock: dict[tuple[str, str], StockLevel] = {}
        self.events: dict[str, tuple[EventRecord, tuple[StockChange, ...]]] = {}
        self.anomalies: dict[str, dict[str, Any]] = {}
        self.commits = 0
        self._lock = threading.Lock()
        # the stock-push outbox, as the DynamoDB items carry it
        self.push_pending: set[tuple[str, str]] = set()
        self.stock_versions: dict[tuple[str, str], int] = {}
        self.limited_sale: dict[tuple[str, str], bool] = {}
        self.trail: FakeTrail | None = None  # where a plan's trail goes, as in the transaction

    def _flag(self, changes: Iterable[StockChange]) -> None:
        """Every change to `available` flags its item for the pusher and bumps its version."""
        for change in changes:
            if change.available:
                key = (change.sku, change.warehouse)
                self.push_pending.add(key)
                self.stock_versions[key] = self.stock_versions.get(key, 0) + 1

    def put_stock(self, level: StockLevel) -> None:
        key = (level.sku, level.warehouse)
        self.stock[key] = level
        self.push_pending.add(key)
        self.stock_versions[key] = 1
        self.limited_sale.pop(key, None)

    def configure_stock(self, sku, warehouse, safety_stock, holdback, holdback_channels) -> None:
        level = self.stock[(sku, warehouse)]
        self.stock[(sku, warehouse)] = replace(
            level,
            safety_stock=safety_stock,
            holdback=holdback,
            holdback_channels=tuple(holdback_channels),
        )
        self.push_pending.add((sku, warehouse))
        self.stock_versions[(sku, warehouse)] = self.stock_versions.get((sku, warehouse), 0) + 1

    def pending_skus(self, limit: int = 100) -> list[str]:
        return sorted({sku for sku, _ in self.push_pending})[:limit]

    def read_push_state(self, sku: str) -> SkuPushState:
        keys = sorted(k for k in self.stock if k[0] == sku)
        return SkuPushState(
            sku,
            tuple(self.stock[k] for k in keys),
            {k[1]: self.stock_versions.get(k, 0) for k in keys},
            frozenset(k[1] for k in keys if k in self.push_pending),
            any(self.limited_sale.get(k, False) for k in keys),
        )

    def clear_push_pending(self, sku: str, versions: Mapping[str, int]) -> list[str]:
        changed = []
        for warehouse, seen in sorted(versions.items()):
            key = (sku, warehouse)
            if key in self.stock and self.stock_versions.get(key, 0) == seen:
                self.push_pending.discard(key)
            else:
                changed.append(warehouse)
        return changed

    def record_limited_sale(self, sku: str, limited: bool) -> None:
        for key in self.stock:
            if key[0] == sku:
                self.limited_sale[key] = limited

    def get_order(self, key: str) -> Order | None:
        return self.orders.get(key)

    def read_booking(
        self, order_key: str, skus: Sequence[str], warehouses: Sequence[str]
    ) -> tuple[Order | None, dict[tuple[str, str], StockLevel]]:
        stock = self.get_stock(skus)
        return self.get_order(order_key), {k: v for k, v in stock.items() if k[1] in warehouses}

    def get_stock(self, skus: Iterable[str]) -> dict[tuple[str, str], StockLevel]:
        wanted = set(skus)
        return {k: v for k, v in self.stock.items() if k[0] in wanted}

    def get_sku_levels(self, sku: str) -> list[StockLevel]:
        return [v for k, v in self.stock.items() if k[0] == sku]

    def all_stock(self) -> list[StockLevel]:
        return list(self.stock.values())

    def get_event_outcome(self, event_key: str) -> Mapping[str, Any] | None:
        if event_key not in self.events:
            return None
        record, changes = self.events[event_key]
        return {
            "event_key": record.event_key,
            "order_key": record.order_key,
            "outcome": record.outcome.value,
            "reason": record.reason,
            "cause": record.cause,
            "processed_at": record.processed_at.isoformat(),
            "movements": [c.to_dict() for c in changes],
        }

    def ledger(self) -> Iterator[Mapping[str, Any]]:
        return (self.get_event_outcome(k) for k in list(self.events))  # type: ignore[misc]

    def orders_due_for_expiry(self, now: datetime, limit: int = 100) -> list[Order]:
        due = [
            o
            for o in self.orders.values()
            if o.reserved_until is not None
            and any(h.reserved for h in o.holds)
            and o.reserved_until <= now
        ]
        return sorted(due, key=lambda o: o.reserved_until)[:limit]  # type: ignore[arg-type,return-value]

    def open_orders(self) -> Iterator[Order]:
        return (o for o in list(self.orders.values()) if o.held())

    def get_anomaly(self, rule: str, subject: str) -> Mapping[str, Any] | None:
        item = self.anomalies.get(f"{rule}#{subject}")
        return None if item is None else anomaly_fakes.legacy_view(item)

    def open_anomaly(self, anomaly: Anomaly, now: datetime) -> None:
        # the lifecycle's fields too (tests/anomaly_fakes.py: FakeAnomalies shares the dict)
        anomaly_fakes.upsert(self.anomalies, anomaly, now)

    def roll_back_part(self, event_key: str, reverse) -> None:
        with self._lock:
            if event_key not in self.events or self.events[event_key][0].outcome.value != (
                "staging"
            ):
                return
            updated = {}
            for change in reverse:
                level = self.stock[(change.sku, change.warehouse)]
                if not level.admits(change):
                    raise ConcurrentUpdate(f"stock {change.sku}@{change.warehouse} changed")
                updated[(change.sku, change.warehouse)] = level.apply(change)
            del self.events[event_key]
            self.stock.update(updated)
            self._flag(reverse)

    def commit(self, plan: BookingPlan) -> None:
        with self._lock:
            existing = self.events.get(plan.record.event_key)
            if plan.staged_final:
                if existing is None or existing[0].outcome.value != "staging":
                    raise AlreadyProcessed("staged record finalized or rolled back")
            elif existing is not None:
                raise AlreadyProcessed("event record exists")
            if plan.order is not None:
                stored = self.orders.get(plan.order.key)
                version = stored.version if stored else 0
                if version != plan.expected_version:
                    raise ConcurrentUpdate("order version moved")
            updated = {}
            for change in plan.stock_changes:
                key = (change.sku, change.warehouse)
                level = self.stock.get(key)
                if level is None and plan.creates_stock:
                    level = StockLevel.new(change.sku, change.warehouse, 0)
                if level is None or not level.admits(change):
                    raise ConcurrentUpdate(f"stock {change.sku}@{change.warehouse} changed")
                updated[key] = level.apply(change)
            if plan.trail is not None and self.trail is not None:  # before any change: atomic
                entry, outcome = plan.trail, plan.record.outcome.value
                self.trail.record_attempt(
                    entry.receipt.event_key,
                    entry.at,
                    entry.attempt,
                    outcome,
                    final=True,
                    receipt=entry.receipt,
                )
            moved = existing[1] if plan.staged_final and existing else plan.stock_changes
            self.events[plan.record.event_key] = (plan.record, moved)
            if plan.order is not None:
                self.orders[plan.order.key] = plan.order
            self.stock.update(updated)
            self._flag(plan.stock_changes)
            for anomaly in plan.anomalies:
                self.open_anomaly(anomaly, plan.record.processed_at)
            self.commits += 1


class FakeCatalog:
    def __init__(self) -> None:
        self.stores: dict[tuple[str, str], Store] = {}
        self.warehouses: dict[str, Warehouse] = {}
        self.api_keys: dict[str, dict[str, Any]] = {}
        self.sku_map: dict[tuple[str, str, str], str] = {}

    def get_store(self, platform: str, store_id: str) -> Store | None:
        return self.stores.get((platform, store_id))

    def put_store(self, store: Store) -> None:
        self.stores[(store.platform, store.store_id)] = store

    def list_warehouses(self) -> list[Warehouse]:
        return sorted(self.warehouses.values(), key=lambda w: w.warehouse_id)

    def list_stores(self) -> list[Store]:
        return [self.stores[k] for k in sorted(self.stores)]

    def resolve_sku(self, platform: str, store_id: str, channel_sku: str) -> str | None:
        return self.sku_map.get((platform, store_id, channel_sku))

    def put_sku_mapping(self, platform: str, store_id: str, channel_sku: str, sku: str) -> None:
        self.sku_map[(platform, store_id, channel_sku)] = sku

    def channel_skus(self, platform: str, store_id: str, sku: str) -> list[str]:
        return sorted(
            c
            for (p, s, c), ours in self.sku_map.items()
            if (p, s, ours) == (platform, store_id, sku)
        )

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

    def send_many(self, messages: Sequence[tuple[Mapping[str, Any], str]]) -> list[str]:
        return [self.send(body, correlation) for body, correlation in messages]


class FakeRawArchive:
    """Same contract as messaging.RawArchive: documents by key."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    def keep(self, key: str, document: Mapping[str, Any]) -> None:
        self.documents[key] = dict(document)

    def keep_batch(self, object_key: str, documents: Mapping[str, Mapping[str, Any]]) -> None:
        self.keep(object_key, batch_document(documents))

    def read(self, key: str) -> dict[str, Any] | None:
        object_key, member = split_archive_key(key)
        document = self.documents.get(object_key)
        if document is None or member is None:
            return document
        return batch_member(document, member)


class FakeStockPush:
    """Records pushes; `fail` makes a channel raise; `during_push` runs inside every push (to
    change stock while a push is in flight)."""

    def __init__(self) -> None:
        self.pushes: list[tuple[str, str, str, int]] = []
        self.failing: dict[tuple[str, str], Exception] = {}
        self.during_push: Any = None

    def push(self, platform: str, store_id: str, sku: str, quantity: int) -> None:
        if self.during_push is not None:
            self.during_push()
        error = self.failing.get((platform, store_id))
        if error is not None:
            raise error
        self.pushes.append((platform, store_id, sku, quantity))

    def fail(self, platform: str, store_id: str, error: Exception | None = None) -> None:
        self.failing[(platform, store_id)] = error or ChannelUnavailable(f"{store_id} is down")


class FakeEventPublisher:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.error: Exception | None = None

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None:
        if self.error is not None:
            raise self.error
        self.events.append((detail_type, dict(detail)))


class FakeNotifier:
    """Same contract as notify.RoutingNotifier (the `Notifier` port): records every notice;
    `error` makes `notify` raise (every route failed)."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []
        self.error: Exception | None = None

    def notify(self, notice: Notice) -> None:
        if self.error is not None:
            raise self.error
        self.notices.append(notice)


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


class FakeTrail:
    """Same contract as DynamoTrail (tests/integration/test_repository_contract.py)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.failing: Exception | None = None  # every write raises this when set

    def _item(self, event_key: str) -> dict[str, Any]:
        if self.failing is not None:
            raise self.failing
        return self.items.setdefault(
            event_key,
            {
                "event_key": event_key,
                "platform": None,
                "store": None,
                "received_at": None,
                "ack_ms": None,
                "message_id": None,
                "raw_key": None,
                "attempts": [],
                "final_outcome": None,
                "pending": False,
            },
        )

    def record_receipt(self, event_key, platform, store, received_at, ack_ms, message_id) -> None:
        item = self._item(event_key)
        item.update(platform=platform, store=store, ack_ms=ack_ms, message_id=message_id)
        if item["received_at"] is None:
            item["received_at"] = received_at.astimezone(UTC).isoformat()
        item.setdefault("store_day", f"{platform}#{store}#{received_at.astimezone(UTC).date()}")
        if item["final_outcome"] is None:
            item["pending"] = True

    def record_attempt(
        self,
        event_key,
        at,
        attempt,
        outcome=None,
        error_class=None,
        final=False,
        error=None,
        receipt=None,
    ) -> None:
        item = self._item(event_key)
        if receipt is not None:
            was_final, first_ack = item["final_outcome"] is not None, item["ack_ms"]
            self.record_receipt(
                event_key,
                receipt.platform,
                receipt.store,
                receipt.received_at,
                receipt.ack_ms,
                receipt.message_id,
            )
            item["pending"] = not was_final
            item["ack_ms"] = first_ack if first_ack is not None else receipt.ack_ms
            if receipt.raw_key:
                item["raw_key"] = receipt.raw_key
        entry: dict[str, Any] = {"at": at.astimezone(UTC).isoformat(), "attempt": attempt}
        if outcome:
            entry["outcome"] = outcome
        if error_class:
            entry["error_class"] = error_class
        if error:
            entry["error"] = error
        item["attempts"].append(entry)
        if final and outcome:
            item["final_outcome"] = outcome
            item["pending"] = False

    def finalize(self, event_key, outcome) -> None:
        item = self._item(event_key)
        item["final_outcome"] = outcome
        item["pending"] = False

    def pending_before(self, before, limit=500):
        cutoff = before.astimezone(UTC).isoformat()
        found = [
            self._view(i)
            for i in self.items.values()
            if i["pending"] and i["received_at"] and i["received_at"] < cutoff
        ]
        return sorted(found, key=lambda i: i["received_at"])[:limit]

    def receipts(self, platform, store, day):
        key = f"{platform}#{store}#{day}"
        found = [self._view(i) for i in self.items.values() if i.get("store_day") == key]
        return sorted(found, key=lambda i: i["event_key"])

    def get(self, event_key):
        item = self.items.get(event_key)
        return None if item is None else self._view(item)

    @staticmethod
    def _view(item: dict[str, Any]) -> dict[str, Any]:
        view = {k: v for k, v in item.items() if k != "store_day"}
        view["attempts"] = [dict(a) for a in item["attempts"]]
        return view
