"""DynamoDB through pynamodb: the only module that knows table layouts and condition expressions.

Model classes are built per table-name set (`build_models`) instead of at import time, so no
environment is read on import and tests can bind them to any table or endpoint.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo_items import (
    _item_from_order,
    _level_from_item,
    _order_from_item,
)
from chalicelib.adapters.dynamo_models import Models, index_value, query_sharded
from chalicelib.adapters.dynamo_records import booked_trail_actions
from chalicelib.adapters.stock_shards import (
    HotStockConfig,
    StockShards,
    is_throttle,
    throttled_items,
)
from chalicelib.domain.anomalies import time_key
from chalicelib.domain.errors import AlreadyProcessed, ConcurrentUpdate, Throttled, TransientFailure
from chalicelib.domain.hot_stock import fold_levels, is_shard_key
from chalicelib.domain.ledger_audit import ledger_day_value
from chalicelib.domain.model import (
    Anomaly,
    BookingPlan,
    Order,
    Outcome,
    StockChange,
    StockLevel,
)
from chalicelib.domain.ports import SkuPushState


class DynamoOrderRepository:
    """Orders, stock, event records (the ledger) and anomalies; one transaction per event."""

    def __init__(self, models: Models, hot_stock: HotStockConfig | None = None) -> None:
        self._m = models
        # hot SKUs: stock items sharded over K items (adapters/stock_shards.py)
        self._shards = StockShards(
            models.inventory, models.connection, hot_stock or HotStockConfig()
        )

    def get_order(self, key: str) -> Order | None:
        try:
            return _order_from_item(self._m.orders.get(key, consistent_read=True))
        except self._m.orders.DoesNotExist:
            return None

    def get_stock(self, skus: Iterable[str]) -> dict[tuple[str, str], StockLevel]:
        levels: dict[tuple[str, str], StockLevel] = {}
        for sku in dict.fromkeys(skus):
            items = list(self._m.inventory.query(sku, consistent_read=True))
            read = [_level_from_item(i) for i in items]
            for level in self._shards.observe(sku, items, read):  # shards summed
                levels[(level.sku, level.warehouse)] = level
        return levels

    def read_booking(
        self, order_key: str, skus: Sequence[str], warehouses: Sequence[str]
    ) -> tuple[Order | None, dict[tuple[str, str], StockLevel]]:
        """One BatchGetItem across the orders and inventory tables, consistent reads (as the
        GetItem and Queries it replaces); chunks of 100 keys, unprocessed keys asked again.
        A hot SKU (configured, known, or its base item marked) is read whole by a Query, so
        its shards are summed and kept for routing the commit (adapters/stock_shards.py)."""
        orders, inventory = self._m.orders, self._m.inventory
        wanted = [(orders, {"order_key": {"S": order_key}})] + [
            (inventory, {"sku": {"S": sku}, "warehouse": {"S": wh}})
            for sku in dict.fromkeys(skus)
            for wh in dict.fromkeys(warehouses)
        ]
        order: Order | None = None
        levels: dict[tuple[str, str], StockLevel] = {}
        hot: set[str] = set()
        for start in range(0, len(wanted), BATCH_GET_KEYS):
            request: dict[str, Any] = {}
            for model, key in wanted[start : start + BATCH_GET_KEYS]:
                table = request.setdefault(
                    model.Meta.table_name, {"Keys": [], "ConsistentRead": True}
                )
                table["Keys"].append(key)
            for table_name, items in _batch_get(self._m.connection.client, request):
                for raw in items:
                    if table_name == orders.Meta.table_name:
                        order = _order_from_item(orders.from_raw_data(raw))
                    else:
                        item = inventory.from_raw_data(raw)
                        if getattr(item, "hot_shards", None):
                            hot.add(item.sku)  # marked hot elsewhere: its shards hold stock
                        level = _level_from_item(item)
                        levels[(level.sku, level.warehouse)] = level
        # a hot SKU's stock lies on its shard items too: read it whole (Query, shards summed)
        hot.update(
            sku
            for sku in skus
            if any(self._shards.shards_of(sku, warehouse) for warehouse in warehouses)
        )
        if hot:
            levels = {key: level for key, level in levels.items() if key[0] not in hot}
            levels.update(self.get_stock(sorted(hot)))
        return order, levels

    def get_sku_levels(self, sku: str) -> list[StockLevel]:
        return fold_levels(_level_from_item(i) for i in self._m.inventory.query(sku))

    def all_stock(self) -> list[StockLevel]:
        return fold_levels(_level_from_item(i) for i in self._m.inventory.scan())

    def configure_stock(
        self,
        sku: str,
        warehouse: str,
        safety_stock: int,
        holdback: int,
        holdback_channels: Iterable[str],
    ) -> None:
        """Set a stock item's rules; balances are only ever moved by committed plans."""
        inv = self._m.inventory
        inv(sku, warehouse).update(
            actions=[
                inv.safety_stock.set(safety_stock),
                inv.holdback.set(holdback),
                inv.holdback_channels.set(list(holdback_channels)),
                inv.listed.set(index_value("stock_list", f"{sku}#{warehouse}", self._m.shards)),
                *_push_flag(
                    inv, f"{sku}#{warehouse}", self._m.shards
                ),  # what channels may sell depends on these
            ]
        )

    def put_stock(self, level: StockLevel) -> None:
        """Set a stock item outright: for tests only (it bypasses the ledger)."""
        self._m.inventory(
            level.sku,
            level.warehouse,
            on_hand=level.on_hand,
            locked=level.locked,
            reserved=level.reserved,
            available=level.available,
            safety_stock=level.safety_stock,
            holdback=level.holdback,
            holdback_channels=list(level.holdback_channels),
            push_pending=index_value("push_pending", _item_key(level), self._m.shards),
            stock_version=1,
            listed=index_value("stock_list", _item_key(level), self._m.shards),
        ).save()

    def pending_skus(self, limit: int = 100) -> list[str]:
        """SKUs with at least one item flagged, in SKU order, each once (the index holds an
        item per warehouse). The index is eventually consistent: `read_push_state` decides."""
        skus: list[str] = []
        inv = self._m.inventory
        flagged = query_sharded(inv.pending_push, "push_pending", self._m.shards, _by_sku)
        for item in flagged:
            if not skus or skus[-1] != item.sku:
                if len(skus) == limit:
                    break
                skus.append(item.sku)
        return skus

    def read_push_state(self, sku: str) -> SkuPushState:
        return _push_state(sku, list(self._m.inventory.query(sku, consistent_read=True)))

    def read_push_states(
        self, skus: Sequence[str], warehouses: Sequence[str]
    ) -> dict[str, SkuPushState]:
        """`read_push_state` of several SKUs in one consistent BatchGetItem (100 keys a call)
        of their items in the catalog's warehouses, where stock can only be (receipts check
        it; domain/stock_ops.py); `push_states_from` says what is read whole instead."""
        inventory = self._m.inventory
        keys = self.push_state_keys(skus, warehouses)
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_KEYS):
            request = {
                inventory.Meta.table_name: {
                    "Keys": keys[start : start + BATCH_GET_KEYS],
                    "ConsistentRead": True,
                }
            }
            for _, items in _batch_get(self._m.connection.client, request):
                found.extend(items)
        return self.push_states_from(skus, warehouses, found)

    @property
    def inventory_table(self) -> str:
        return str(self._m.inventory.Meta.table_name)

    def push_state_keys(self, skus: Sequence[str], warehouses: Sequence[str]) -> list[Any]:
        """The inventory keys `read_push_states` reads (for a read that spans tables)."""
        return [
            {"sku": {"S": sku}, "warehouse": {"S": wh}}
            for sku in dict.fromkeys(skus)
            for wh in dict.fromkeys(warehouses)
        ]

    def push_states_from(
        self, skus: Sequence[str], warehouses: Sequence[str], raw_items: Iterable[Any]
    ) -> dict[str, SkuPushState]:
        """The SKUs' states from their items read by `push_state_keys`. A hot SKU's shards
        are read whole, by its Query, as the booking's read does (`read_booking`), and so is
        a SKU none of whose items read here is flagged (its flag may be on an item of a
        warehouse added since the caller's list was cached). Stock in such a warehouse is
        missed while another item is flagged; its own flag stays set, so a later run
        pushes it."""
        inventory = self._m.inventory
        unique = list(dict.fromkeys(skus))
        items: dict[str, list[Any]] = {sku: [] for sku in unique}
        hot = {s for s in unique if any(self._shards.shards_of(s, wh) for wh in warehouses)}
        for raw in raw_items:
            item = inventory.from_raw_data(raw)
            if getattr(item, "hot_shards", None):
                hot.add(item.sku)
            items.setdefault(item.sku, []).append(item)
        states = {sku: _push_state(sku, found) for sku, found in items.items() if sku not in hot}
        again = [sku for sku in unique if sku in hot or not states[sku].pending]
        states.update((sku, self.read_push_state(sku)) for sku in again)
        return states

    def clear_push_pending(self, sku: str, versions: Mapping[str, int]) -> list[str]:
        inv = self._m.inventory
        changed = []
        for warehouse, seen in sorted(versions.items()):
            unchanged = inv.stock_version == seen
            if not seen:
                unchanged = inv.stock_version.does_not_exist() | unchanged
            try:
                inv(sku, warehouse).update(
                    actions=[inv.push_pending.remove()], condition=inv.sku.exists() & unchanged
                )
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
                changed.append(warehouse)
        return changed

    def record_limited_sale(self, sku: str, limited: bool) -> None:
        """Stored on every item of the SKU (the state is the SKU's); never bumps versions."""
        inv = self._m.inventory
        for item in inv.query(sku, consistent_read=True, attributes_to_get=["sku", "warehouse"]):
            try:
                inv(sku, item.warehouse).update(
                    actions=[inv.limited_sale.set(limited)], condition=inv.sku.exists()
                )
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise  # (a deleted item is fine: nothing to record on)

    def claim_limited_sale(self, sku: str, limited: bool) -> bool:
        """Record the SKU's new limited-sale state if no other run did: a conditional write on
        its first item decides which of two overlapping runs (a nudge and the sweeper)
        announces the transition. False: already recorded."""
        inv = self._m.inventory
        items = sorted(
            item.warehouse
            for item in inv.query(sku, consistent_read=True, attributes_to_get=["sku", "warehouse"])
        )
        if not items:
            return False
        if limited:
            differs = inv.limited_sale.does_not_exist() | (inv.limited_sale == False)  # noqa: E712
        else:
            differs = inv.limited_sale == True  # noqa: E712
        try:
            inv(sku, items[0]).update(
                actions=[inv.limited_sale.set(limited)], condition=inv.sku.exists() & differs
            )
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        self.record_limited_sale(sku, limited)  # the other items follow
        return True

    def get_event_outcome(self, event_key: str) -> Mapping[str, Any] | None:
        try:
            item = self._m.events.get(event_key, consistent_read=True)
        except self._m.events.DoesNotExist:
            return None
        return _record_view(item)

    def ledger(self) -> Iterator[Mapping[str, Any]]:
        """Every event record with its movements (a full read: for the nightly audit)."""
        return (_record_view(item) for item in self._m.events.scan())

    def orders_due_for_expiry(self, now: datetime, limit: int = 100) -> list[Order]:
        orders = self._m.orders
        due = orders.reserved_until_key <= now.isoformat()
        items = query_sharded(
            orders.reservations, "reservations", self._m.shards, _by_expiry, due, limit=limit
        )
        return [_order_from_item(i) for i in islice(items, limit)]

    def open_orders(self) -> Iterator[Order]:
        orders = self._m.orders
        items = query_sharded(
            orders.open_orders, "open_orders", self._m.shards, _by_order_key, unique=True
        )
        return (_order_from_item(i) for i in items)

    def get_anomaly(self, rule: str, subject: str) -> Mapping[str, Any] | None:
        try:
            item = self._m.anomalies.get(f"{rule}#{subject}", consistent_read=True)
        except self._m.anomalies.DoesNotExist:
            return None
        return {
            "rule": item.rule,
            "subject": item.subject,
            "priority": item.priority,
            "status": item.status or "resolved",
            "detail": item.detail,
            "occurrences": int(item.occurrences or 0),
            "opened_at": item.opened_at.isoformat() if item.opened_at else None,
        }

    def open_anomaly(self, anomaly: Anomaly, now: datetime) -> None:
        self._m.anomalies(anomaly.key).update(
            actions=_anomaly_upsert(self._m.anomalies, anomaly, now)
        )

    def roll_back_part(self, event_key: str, reverse: Sequence[StockChange]) -> None:
        m = self._m
        roles = ["event"]
        try:
            routed = self._shards.route(reverse, event_key, _level_from_item)
            with TransactWrite(connection=m.connection) as tx:
                tx.delete(m.events(event_key), condition=m.events.outcome == Outcome.STAGING.value)
                for change in routed.changes:
                    actions, condition = _stock_update(m.inventory, change, False, m.shards)
                    tx.update(
                        m.inventory(change.sku, change.warehouse),
                        actions=actions,
                        condition=condition,
                    )
                    roles.append(f"stock {change.sku}@{change.warehouse}")
        except TransactWriteError as exc:
            error = self._failed(exc, roles)
            if isinstance(error, AlreadyProcessed):
                return  # the record is gone: rolled back before
            raise error from exc

    def commit(self, plan: BookingPlan) -> None:
        m = self._m
        record = plan.record
        event = m.events(
            record.event_key,
            order_key=record.order_key,
            outcome=record.outcome.value,
            reason=record.reason,
            cause=record.cause,
            processed_at=record.processed_at,
            movements=json.dumps([c.to_dict() for c in plan.stock_changes]),
            order_ref=order_ref(record.order_key),
            ledger_day=ledger_day_value(record.event_key, record.processed_at, m.shards)
            if plan.stock_changes
            else None,
        )
        # pynamodb sends puts before updates, in the order added: reasons come back that way.
        roles = ["event"]
        try:
            # a hot SKU's change becomes changes of its shard items
            routed = self._shards.route(plan.stock_changes, record.order_key, _level_from_item)
            with TransactWrite(connection=m.connection) as tx:
                if plan.staged_final:  # the record exists as the staged commit's lock
                    tx.update(
                        event,
                        actions=[
                            m.events.outcome.set(record.outcome.value),
                            m.events.reason.set(record.reason),
                        ],
                        condition=m.events.outcome == Outcome.STAGING.value,
                    )
                else:
                    tx.save(event, condition=m.events.event_key.does_not_exist())
                if plan.order is not None:
                    if plan.expected_version:
                        guard = m.orders.version == plan.expected_version
                    else:
                        guard = m.orders.order_key.does_not_exist()
                    tx.save(_item_from_order(m, plan.order), condition=guard)
                    roles.append("order")
                for change in routed.changes:
                    # a booking may carry stock to a shard item not made yet
                    may_create = plan.creates_stock or is_shard_key(change.warehouse)
                    actions, condition = _stock_update(m.inventory, change, may_create, m.shards)
                    tx.update(
                        m.inventory(change.sku, change.warehouse),
                        actions=actions,
                        condition=condition,
                    )
                    roles.append(f"stock {change.sku}@{change.warehouse}")
                for anomaly in plan.anomalies:
                    tx.update(
                        m.anomalies(anomaly.key),
                        actions=_anomaly_upsert(m.anomalies, anomaly, record.processed_at),
                    )
                    roles.append(f"anomaly {anomaly.key}")
                if plan.trail is not None and record.outcome is not Outcome.STAGING:
                    # the trail's receipt and attempt ride on the booking: no write of its own
                    tx.update(
                        m.trail(record.event_key),
                        actions=booked_trail_actions(m.trail, plan.trail, record.outcome.value),
                    )
                    roles.append("trail")
        except TransactWriteError as exc:
            raise self._failed(exc, roles) from exc
        self._shards.forget_reads()
        self._shards.throttle_streak(False)
        self._shards.note_committed(routed)
        self._shards.rebalance_if_low(routed, functools.partial(_stock_update, shards=m.shards))

    def _failed(self, exc: TransactWriteError, roles: list[str]) -> Exception:
        """The domain error of a cancelled transaction; a throttled one (DynamoDB's per-item
        write limit) pauses first and counts towards marking the item hot."""
        self._shards.forget_reads()
        reasons = exc.cancellation_reasons or []
        if exc.cause_response_code == "TransactionCanceledException" and is_throttle(reasons):
            self._shards.after_throttle(throttled_items(roles, reasons))
            return Throttled(
                "write rate exceeded: "
                + ", ".join(
                    role
                    for role, r in zip(roles, reasons, strict=False)
                    if r is not None and r.code != "None"
                )
            )
        error = _domain_error(exc, roles)
        if isinstance(error, ConcurrentUpdate):  # a SKU sharded by another process?
            self._shards.learn_failed(roles, reasons, _level_from_item)
        return error


BATCH_GET_KEYS = 100  # BatchGetItem's limit per request
BATCH_GET_ROUNDS = 8  # unprocessed keys asked again (throttling) before giving up for now


def _push_state(sku: str, items: Sequence[Any]) -> SkuPushState:
    return SkuPushState(
        sku,
        tuple(fold_levels(_level_from_item(i) for i in items)),
        {i.warehouse: int(i.stock_version or 0) for i in items},  # per item (shards too)
        frozenset(i.warehouse for i in items if i.push_pending),
        any(bool(i.limited_sale) for i in items),
    )


def _batch_get(client: Any, request: dict[str, Any]) -> Iterator[tuple[str, list[Any]]]:
    """Each table's items of one BatchGetItem, asking again for any unprocessed keys."""
    for _ in range(BATCH_GET_ROUNDS):
        answer = client.batch_get_item(RequestItems=request)
        yield from answer.get("Responses", {}).items()
        request = answer.get("UnprocessedKeys") or {}
        if not request:
            return
    raise TransientFailure("DynamoDB left keys of the booking read unprocessed; retry later")


def order_ref(order_key: str) -> str | None:
    """The `by_order` index key of a record: its order key, if it names an order (not empty,
    as for an unreadable message, nor a stock item, as for an adjustment)."""
    return order_key if order_key and not order_key.startswith("stock#") else None


def _record_view(item: Any) -> dict[str, Any]:
    return {
        "event_key": item.event_key,
        "order_key": item.order_key,
        "outcome": item.outcome,
        "reason": item.reason,
        "cause": item.cause,
        "processed_at": item.processed_at.isoformat(),
        "movements": json.loads(item.movements or "[]"),
    }


def _stock_update(
    inv: Any, change: StockChange, may_create: bool, shards: int
) -> tuple[list[Any], Any]:
    """ADD each delta; condition every decremented bucket on covering it, so none goes below 0,
    and growth on `available >= min_available` (quantity plus any channel holdback)."""
    condition = None if may_create else inv.sku.exists()

    def both(extra: Any) -> Any:
        return extra if condition is None else condition & extra

    # the console's stock list (`stock_list` index)
    actions = [inv.listed.set(index_value("stock_list", _item_key(change), shards))]
    for attr, delta in (
        (inv.on_hand, change.on_hand),
        (inv.locked, change.locked),
        (inv.reserved, change.reserved),
        (inv.available, change.available),
    ):
        if delta:
            actions.append(attr.add(delta))
        if delta < 0:
            condition = both(attr >= -delta)
    if change.min_available > 0:
        condition = both(inv.available >= change.min_available)
    if change.expect_on_hand is not None:
        condition = (
            both(inv.on_hand == change.expect_on_hand)
            if change.expect_on_hand
            else both(inv.on_hand.does_not_exist() | (inv.on_hand == 0))
        )
    if change.available:  # what channels may sell moved: into the push outbox
        actions.extend(_push_flag(inv, _item_key(change), shards))
    return actions, condition


def _push_flag(inv: Any, item_key: str, shards: int) -> list[Any]:
    """Flag the item for the stock pusher and bump its version, in the same write that
    changes it: no outbox item to add to the transaction, and a burst is one flag."""
    flag = index_value("push_pending", item_key, shards)
    return [inv.push_pending.set(flag), inv.stock_version.add(1)]


def _item_key(stock: StockLevel | StockChange) -> str:
    """A stock item's key for the sharded `push_pending` and `stock_list` values: SKU and
    warehouse, so even one SKU's items spread (readers merge by SKU, keeping them together)."""
    return f"{stock.sku}#{stock.warehouse}"


def _by_sku(item: Any) -> str:
    return str(item.sku)


def _by_expiry(item: Any) -> str:
    return str(item.reserved_until_key)


def _by_order_key(item: Any) -> str:
    return str(item.order_key)


def _anomaly_upsert(model: Any, anomaly: Anomaly, now: datetime) -> list[Any]:
    """Open once per (rule, subject); a repeat counts and refreshes, never reopens a duplicate.
    Resolution removes `status`, `opened_at`, `occurrences` and `status_at` (the episode), so
    the same upsert reopens a resolved anomaly as a new episode."""
    return [
        model.rule.set(anomaly.rule),
        model.subject.set(anomaly.subject),
        model.priority.set(anomaly.priority.value),
        model.detail.set(anomaly.detail),
        model.status.set(model.status | "open"),
        model.opened_at.set(model.opened_at | now),
        model.last_seen_at.set(now),
        model.occurrences.add(1),
        # due at once (to be announced) when it opens or reopens; a repeat keeps its due time
        model.status_at.set(model.status_at | time_key(now)),
    ]


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
