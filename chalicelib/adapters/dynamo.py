"""DynamoDB through pynamodb: the only module that knows table layouts and condition expressions.

Model classes are built per table-name set (`build_models`) instead of at import time, so no
environment is read on import and tests can bind them to any table or endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.domain.errors import AlreadyProcessed, ConcurrentUpdate, TransientFailure
from chalicelib.domain.model import (
    Booking,
    BookingPlan,
    Buyer,
    Hold,
    Order,
    OrderLine,
    PlatformStatus,
    StockChange,
    StockLevel,
)
from chalicelib.domain.ports import Store, Warehouse

EVENT_RECORD_RETENTION = timedelta(days=90)


@dataclass(frozen=True)
class TableNames:
    catalog: str
    inventory: str
    orders: str
    events: str


@dataclass(frozen=True)
class Models:
    """Model classes built at run time: typed Any, as mypy cannot see their attributes."""

    catalog: Any
    inventory: Any
    orders: Any
    events: Any
    connection: Connection


def build_models(names: TableNames, region: str, endpoint_url: str | None = None) -> Models:
    """pynamodb model classes bound to these tables (and, locally, to the emulator)."""
    endpoint = endpoint_url
    aws_region = region

    class CatalogItem(Model):
        class Meta:
            table_name = names.catalog
            region = aws_region
            host = endpoint

        pk = UnicodeAttribute(hash_key=True)
        sk = UnicodeAttribute(range_key=True)
        data = MapAttribute(default=dict)  # type: ignore[var-annotated]

    class InventoryItem(Model):
        class Meta:
            table_name = names.inventory
            region = aws_region
            host = endpoint

        sku = UnicodeAttribute(hash_key=True)
        warehouse = UnicodeAttribute(range_key=True)
        on_hand = NumberAttribute(default=0)
        locked = NumberAttribute(default=0)
        reserved = NumberAttribute(default=0)
        available = NumberAttribute(default=0)
        safety_stock = NumberAttribute(default=0)

    class OrderItem(Model):
        class Meta:
            table_name = names.orders
            region = aws_region
            host = endpoint

        order_key = UnicodeAttribute(hash_key=True)
        platform = UnicodeAttribute()
        store = UnicodeAttribute()
        order_id = UnicodeAttribute()
        status = UnicodeAttribute()
        booking = UnicodeAttribute()
        updated_at = UTCDateTimeAttribute()
        updated_at_raw = UnicodeAttribute()
        currency = UnicodeAttribute()
        lines = UnicodeAttribute()  # JSON: prices stay exact decimal strings
        holds = UnicodeAttribute()  # JSON
        buyer = UnicodeAttribute(null=True)  # JSON; personal data
        reason = UnicodeAttribute(default="")
        version = NumberAttribute()
        last_event_key = UnicodeAttribute(default="")
        created_at = UTCDateTimeAttribute(null=True)

    class EventItem(Model):
        class Meta:
            table_name = names.events
            region = aws_region
            host = endpoint

        event_key = UnicodeAttribute(hash_key=True)
        order_key = UnicodeAttribute()
        outcome = UnicodeAttribute()
        reason = UnicodeAttribute(default="")
        processed_at = UTCDateTimeAttribute()
        expires_at = TTLAttribute()

    return Models(
        CatalogItem,
        InventoryItem,
        OrderItem,
        EventItem,
        Connection(region=region, host=endpoint_url),
    )


def _order_from_item(item: Any) -> Order:
    return Order(
        platform=item.platform,
        store=item.store,
        order_id=item.order_id,
        status=PlatformStatus(item.status),
        booking=Booking(item.booking),
        updated_at=item.updated_at,
        updated_at_raw=item.updated_at_raw,
        currency=item.currency,
        lines=tuple(OrderLine.from_dict(x) for x in json.loads(item.lines)),
        buyer=Buyer.from_dict(json.loads(item.buyer)) if item.buyer else None,
        holds=tuple(Hold.from_dict(x) for x in json.loads(item.holds)),
        reason=item.reason or "",
        version=int(item.version),
        last_event_key=item.last_event_key or "",
        created_at=item.created_at,
    )


def _item_from_order(models: Models, order: Order) -> Any:
    return models.orders(
        order.key,
        platform=order.platform,
        store=order.store,
        order_id=order.order_id,
        status=order.status.value,
        booking=order.booking.value,
        updated_at=order.updated_at,
        updated_at_raw=order.updated_at_raw,
        currency=order.currency,
        lines=json.dumps([line.to_dict() for line in order.lines]),
        holds=json.dumps([hold.to_dict() for hold in order.holds]),
        buyer=json.dumps(order.buyer.to_dict()) if order.buyer else None,
        reason=order.reason,
        version=order.version,
        last_event_key=order.last_event_key,
        created_at=order.created_at,
    )


def _level_from_item(item: Any) -> StockLevel:
    return StockLevel(
        sku=item.sku,
        warehouse=item.warehouse,
        on_hand=int(item.on_hand),
        locked=int(item.locked),
        reserved=int(item.reserved),
        available=int(item.available),
        safety_stock=int(item.safety_stock or 0),
    )


class DynamoOrderRepository:
    """Orders, stock and event records; one transaction per event."""

    def __init__(self, models: Models) -> None:
        self._m = models

    def get_order(self, key: str) -> Order | None:
        try:
            return _order_from_item(self._m.orders.get(key, consistent_read=True))
        except self._m.orders.DoesNotExist:
            return None

    def get_stock(self, skus: Iterable[str]) -> dict[tuple[str, str], StockLevel]:
        levels: dict[tuple[str, str], StockLevel] = {}
        for sku in dict.fromkeys(skus):
            for item in self._m.inventory.query(sku, consistent_read=True):
                levels[(item.sku, item.warehouse)] = _level_from_item(item)
        return levels

    def get_sku_levels(self, sku: str) -> list[StockLevel]:
        return [_level_from_item(i) for i in self._m.inventory.query(sku)]

    def put_stock(self, level: StockLevel) -> None:
        """Set a stock item outright (seeding and tests; live changes go through commit)."""
        self._m.inventory(
            level.sku,
            level.warehouse,
            on_hand=level.on_hand,
            locked=level.locked,
            reserved=level.reserved,
            available=level.available,
            safety_stock=level.safety_stock,
        ).save()

    def get_event_outcome(self, event_key: str) -> Mapping[str, Any] | None:
        try:
            item = self._m.events.get(event_key, consistent_read=True)
        except self._m.events.DoesNotExist:
            return None
        return {
            "event_key": item.event_key,
            "order_key": item.order_key,
            "outcome": item.outcome,
            "reason": item.reason,
            "processed_at": item.processed_at.isoformat(),
        }

    def commit(self, plan: BookingPlan) -> None:
        m = self._m
        record = plan.record
        event = m.events(
            record.event_key,
            order_key=record.order_key,
            outcome=record.outcome.value,
            reason=record.reason,
            processed_at=record.processed_at,
            expires_at=record.processed_at + EVENT_RECORD_RETENTION,
        )
        # pynamodb sends puts before updates, in the order added: reasons come back that way.
        roles = ["event"]
        try:
            with TransactWrite(connection=m.connection) as tx:
                tx.save(event, condition=m.events.event_key.does_not_exist())
                if plan.order is not None:
                    if plan.expected_version:
                        guard = m.orders.version == plan.expected_version
                    else:
                        guard = m.orders.order_key.does_not_exist()
                    tx.save(_item_from_order(m, plan.order), condition=guard)
                    roles.append("order")
                for change in plan.stock_changes:
                    actions, condition = _stock_update(m.inventory, change)
                    tx.update(
                        m.inventory(change.sku, change.warehouse),
                        actions=actions,
                        condition=condition,
                    )
                    roles.append(f"stock {change.sku}@{change.warehouse}")
        except TransactWriteError as exc:
            raise _domain_error(exc, roles) from exc


def _stock_update(inv: Any, change: StockChange) -> tuple[list[Any], Any]:
    """ADD each delta; condition every decremented bucket on covering it, so none goes below 0."""
    condition = inv.sku.exists()
    actions = []
    for attr, delta in (
        (inv.on_hand, change.on_hand),
        (inv.locked, change.locked),
        (inv.reserved, change.reserved),
        (inv.available, change.available),
    ):
        if delta:
            actions.append(attr.add(delta))
        if delta < 0:
            condition &= attr >= -delta
    return actions, condition


def _domain_error(exc: TransactWriteError, roles: list[str]) -> Exception:
    """Read which condition failed; nothing from botocore leaks past this adapter."""
    if exc.cause_response_code != "TransactionCanceledException":
        return TransientFailure(f"DynamoDB transaction failed: {exc.cause_response_code}")
    reasons = exc.cancellation_reasons
    failed = [
        role
        for role, reason in zip(roles, reasons, strict=False)
        if reason is not None and reason.code == "ConditionalCheckFailed"
    ]
    if "event" in failed:
        return AlreadyProcessed("event record exists")
    if failed:
        return ConcurrentUpdate("changed since read: " + ", ".join(failed))
    codes = sorted({r.code for r in reasons if r is not None})
    return ConcurrentUpdate("transaction cancelled: " + ", ".join(codes))


class DynamoCatalog:
    """Stores, warehouses and API keys in the catalog table."""

    def __init__(self, models: Models) -> None:
        self._m = models

    def _get(self, pk: str, sk: str) -> Mapping[str, Any] | None:
        try:
            item = self._m.catalog.get(pk, sk)
        except self._m.catalog.DoesNotExist:
            return None
        return dict(item.data.as_dict()) if item.data else {}

    def _put(self, pk: str, sk: str, data: Mapping[str, Any]) -> None:
        self._m.catalog(pk, sk, data=dict(data)).save()

    def get_store(self, platform: str, store_id: str) -> Store | None:
        data = self._get(f"STORE#{platform}#{store_id}", "STORE")
        if data is None:
            return None
        return Store(
            platform,
            store_id,
            str(data["secret_name"]),
            str(data.get("timezone", "UTC")),
            str(data.get("name", "")),
        )

    def put_store(self, store: Store) -> None:
        self._put(
            f"STORE#{store.platform}#{store.store_id}",
            "STORE",
            {"secret_name": store.secret_name, "timezone": store.timezone, "name": store.name},
        )

    def list_warehouses(self) -> list[Warehouse]:
        return [
            Warehouse(item.sk, str(item.data["region"]), int(item.data["priority"]))
            for item in self._m.catalog.query("WAREHOUSE")
        ]

    def put_warehouse(self, warehouse: Warehouse) -> None:
        self._put(
            "WAREHOUSE",
            warehouse.warehouse_id,
            {"region": warehouse.region, "priority": warehouse.priority},
        )

    def get_api_key(self, key_hash: str) -> Mapping[str, Any] | None:
        return self._get(f"APIKEY#{key_hash}", "APIKEY")

    def put_api_key(self, key_hash: str, record: Mapping[str, Any]) -> None:
        self._put(f"APIKEY#{key_hash}", "APIKEY", record)
