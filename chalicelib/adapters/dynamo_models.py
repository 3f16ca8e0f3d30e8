"""The DynamoDB tables as pynamodb models, built per table-name set (`build_models`) instead of
at import time, so no environment is read on import and tests can bind them to any table or
endpoint; and the constant values of the sparse indexes' keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import (
    AllProjection,
    GlobalSecondaryIndex,
    IncludeProjection,
    KeysOnlyProjection,
)
from pynamodb.models import Model

from chalicelib.domain.index_shards import (
    DEFAULT_INDEX_SHARDS,
    merge_sorted,
    shard_value,
    shard_values,
)

# The sparse indexes' hash values before write sharding (items written then carry them until
# a backfill rewrites them; readers still query them): the constants below. Written now:
# `<base>#<k>` (domain/index_shards.py), `k` from the item's key.
RESERVATION_PARTITION = "R"  # sparse index: only orders holding a reservation carry it
HOLDING = "1"  # sparse index: only orders holding stock carry it
PENDING = "1"  # sparse index: only trails of events not final yet carry it
PUSH_PENDING = "1"  # sparse index: only stock items whose change is not pushed yet carry it
LISTED = "1"  # every stock item carries it: the `stock_list` index lists them all by SKU

# index name -> (the base of its sharded values, its value before sharding)
SHARDED_INDEXES = {
    "reservations": ("R", RESERVATION_PARTITION),  # keyed by order key
    "open_orders": ("open", HOLDING),  # keyed by order key
    "push_pending": ("push", PUSH_PENDING),  # keyed by `sku#warehouse`; read merged by SKU
    "stock_list": ("listed", LISTED),  # keyed by `sku#warehouse`; read merged by SKU
    "pending": ("pending", PENDING),  # trail; keyed by event key
}


def index_value(index: str, key: str, shards: int) -> str:
    """The hash value an item keyed `key` (order key, `sku#warehouse`, event key: see above)
    writes to the sharded `index` now. A backfill of items written before sharding sets
    this value on every item that still carries the index's old constant."""
    return shard_value(SHARDED_INDEXES[index][0], key, shards)


def index_values(index: str, shards: int) -> list[str]:
    """Every hash value a reader of `index` queries: its shards and its old constant."""
    base, legacy = SHARDED_INDEXES[index]
    return shard_values(base, shards, legacy)


@dataclass(frozen=True)
class TableNames:
    catalog: str
    inventory: str
    orders: str
    events: str
    anomalies: str
    trail: str


@dataclass(frozen=True)
class Models:
    """Model classes built at run time: typed Any, as mypy cannot see their attributes."""

    catalog: Any
    inventory: Any
    orders: Any
    events: Any
    anomalies: Any
    connection: Connection
    trail: Any
    shards: int = DEFAULT_INDEX_SHARDS  # hash values per write-sharded sparse index


def build_models(
    names: TableNames,
    region: str,
    endpoint_url: str | None = None,
    shards: int = DEFAULT_INDEX_SHARDS,
) -> Models:
    """pynamodb model classes bound to these tables (and, locally, to the emulator); `shards`
    is how many hash values each write-sharded sparse index spreads over."""
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

    class PushPendingIndex(GlobalSecondaryIndex[Any]):
        """Keys only: an item enters it once per push cycle (when flagged) and leaves once
        (when cleared); the updates in between write nothing to it."""

        class Meta:
            index_name = "push_pending"
            projection = KeysOnlyProjection()

        push_pending = UnicodeAttribute(hash_key=True)
        sku = UnicodeAttribute(range_key=True)

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
        holdback = NumberAttribute(default=0)
        holdback_channels = ListAttribute(default=list)  # type: ignore[var-annotated]
        # The stock-push outbox (chalicelib/domain/stock_push.py): every change to `available`
        # flags the item and bumps its version; the pusher clears the flag if the version is
        # still the one it pushed.
        push_pending = UnicodeAttribute(null=True)
        stock_version = NumberAttribute(null=True)
        limited_sale = BooleanAttribute(null=True)  # the SKU's last announced limited sale
        pending_push = PushPendingIndex()
        listed = UnicodeAttribute(null=True)  # the `stock_list` index (console's stock list)
        hot_shards = NumberAttribute(null=True)  # K: this item's stock is sharded (hot SKU)

    class ReservationIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "reservations"
            projection = AllProjection()

        reservation_partition = UnicodeAttribute(hash_key=True)
        reserved_until_key = UnicodeAttribute(range_key=True)

    class OpenOrdersIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "open_orders"
            projection = AllProjection()

        holding = UnicodeAttribute(hash_key=True)
        order_key = UnicodeAttribute(range_key=True)

    class AwaitingShipmentIndex(GlobalSecondaryIndex[Any]):
        """Orders holding locked units, on the clock of the anomaly rule they may break
        (`anomaly_rules.awaiting_shipment`): keys only, so the order's other updates write
        nothing to it."""

        class Meta:
            index_name = "awaiting_shipment"
            projection = KeysOnlyProjection()

        awaiting = UnicodeAttribute(hash_key=True)  # paid | shipped
        awaiting_since = UnicodeAttribute(range_key=True)  # anomalies.time_key

    class PlacedDayIndex(GlobalSecondaryIndex[Any]):
        """A store's orders of one Beijing day, by order id: the reconciliation's side
        (domain/reconcile.py). Only what it compares is projected."""

        class Meta:
            index_name = "placed_day"
            projection = IncludeProjection(["status", "amount", "currency", "booking"])

        placed_day = UnicodeAttribute(hash_key=True)
        order_id = UnicodeAttribute(range_key=True)

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
        region = UnicodeAttribute(default="")
        reason = UnicodeAttribute(default="")
        version = NumberAttribute()
        last_event_key = UnicodeAttribute(default="")
        created_at = UTCDateTimeAttribute(null=True)
        reserved_until = UTCDateTimeAttribute(null=True)
        reservation_partition = UnicodeAttribute(null=True)
        reserved_until_key = UnicodeAttribute(null=True)
        holding = UnicodeAttribute(null=True)
        reservations = ReservationIndex()
        open_orders = OpenOrdersIndex()
        paid_at = UTCDateTimeAttribute(null=True)
        awaiting = UnicodeAttribute(null=True)
        awaiting_since = UnicodeAttribute(null=True)
        awaiting_shipment = AwaitingShipmentIndex()
        placed_at = UTCDateTimeAttribute(null=True)
        placed_day = UnicodeAttribute(null=True)  # platform#store#YYYY-MM-DD (Beijing)
        amount = UnicodeAttribute(null=True)  # Σ quantity x unit price, decimal text
        by_placed_day = PlacedDayIndex()
        # the console's search indexes (adapters/order_search.py, domain/order_search.py)
        store_ref = UnicodeAttribute(null=True)  # platform#store
        created_sort = UnicodeAttribute(null=True)  # placed time (UTC) + # + order id
        buyer_index = UnicodeAttribute(null=True)  # the phone's blind index; sparse
        created_day = UnicodeAttribute(null=True)  # the Beijing day placed
        id_bucket = UnicodeAttribute(null=True)  # the order id's first two characters
        platform_day = UnicodeAttribute(null=True)  # platform#the Beijing day placed
        platform_status = UnicodeAttribute(null=True)  # platform#the platform status

    class OrderRecordsIndex(GlobalSecondaryIndex[Any]):
        """An order's event records (its events, WMS shipments, expiries) by processing time:
        the order timeline's way in. Sparse (`order_ref` is set only on an order's records:
        an index key cannot be empty, and adjustments name a stock item) and keys only, so
        it costs one small index write per record."""

        class Meta:
            index_name = "by_order"
            projection = KeysOnlyProjection()

        order_ref = UnicodeAttribute(hash_key=True)
        processed_at = UTCDateTimeAttribute(range_key=True)

    class LedgerDayIndex(GlobalSecondaryIndex[Any]):
        """Records that moved stock, by Beijing day (write-sharded: `day#k`) and processing
        time: the incremental ledger audit's way in (domain/ledger_audit.py). Sparse, with
        only what the audit sums projected."""

        class Meta:
            index_name = "ledger_day"
            projection = IncludeProjection(["movements", "outcome"])

        ledger_day = UnicodeAttribute(hash_key=True)
        processed_at = UTCDateTimeAttribute(range_key=True)

    class EventItem(Model):
        """An event's record and its ledger entry: kept for good, so a redelivery is always
        recognised and balances can always be recomputed."""

        class Meta:
            table_name = names.events
            region = aws_region
            host = endpoint

        event_key = UnicodeAttribute(hash_key=True)
        order_key = UnicodeAttribute()
        outcome = UnicodeAttribute()
        reason = UnicodeAttribute(default="")
        cause = UnicodeAttribute(default="")
        processed_at = UTCDateTimeAttribute()
        movements = UnicodeAttribute(default="[]")  # JSON list of StockChange.to_dict()
        order_ref = UnicodeAttribute(null=True)  # = order_key on an order's records only
        by_order = OrderRecordsIndex()
        ledger_day = UnicodeAttribute(null=True)  # domain/ledger_audit.ledger_day_value
        by_ledger_day = LedgerDayIndex()

    class AnomalyStatusIndex(GlobalSecondaryIndex[Any]):
        """Active anomalies by when the engine must next look at them, and resolved
        episodes by resolution time (domain/anomalies.py). Resolved live records carry no
        status, so they are not in it."""

        class Meta:
            index_name = "by_status"
            projection = AllProjection()

        status = UnicodeAttribute(hash_key=True)  # open | acknowledged | resolved
        status_at = UnicodeAttribute(range_key=True)  # due time, or resolution time

    class AnomalyItem(Model):
        """The live anomaly (`rule#subject`) or a resolved episode (`rule#subject@opened`);
        the lifecycle is in adapters/anomalies.py."""

        class Meta:
            table_name = names.anomalies
            region = aws_region
            host = endpoint

        anomaly_key = UnicodeAttribute(hash_key=True)  # rule#subject: one per pair
        rule = UnicodeAttribute()
        subject = UnicodeAttribute()
        priority = UnicodeAttribute()
        status = UnicodeAttribute(null=True)  # removed at resolution: the next upsert reopens
        detail = UnicodeAttribute(default="")
        opened_at = UTCDateTimeAttribute(null=True)
        last_seen_at = UTCDateTimeAttribute(null=True)
        occurrences = NumberAttribute(null=True)
        status_at = UnicodeAttribute(null=True)
        announced_at = UTCDateTimeAttribute(null=True)
        escalation_level = NumberAttribute(null=True)
        escalated_at = UTCDateTimeAttribute(null=True)
        acknowledged_at = UTCDateTimeAttribute(null=True)
        acknowledged_by = UnicodeAttribute(null=True)
        acknowledge_note = UnicodeAttribute(null=True)
        resolved_at = UTCDateTimeAttribute(null=True)
        resolved_by = UnicodeAttribute(null=True)
        resolution_note = UnicodeAttribute(null=True)
        resolved_count = NumberAttribute(null=True)
        episode_of = UnicodeAttribute(null=True)
        by_status = AnomalyStatusIndex()

    class PendingIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "pending"
            projection = AllProjection()

        pending = UnicodeAttribute(hash_key=True)
        received_at = UnicodeAttribute(range_key=True)

    class StoreDayIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "store_day"
            projection = AllProjection()

        store_day = UnicodeAttribute(hash_key=True)
        event_key = UnicodeAttribute(range_key=True)

    class TrailItem(Model):
        """One accepted event's trail: receipt, attempts, final outcome (see ports.Trail)."""

        class Meta:
            table_name = names.trail
            region = aws_region
            host = endpoint

        event_key = UnicodeAttribute(hash_key=True)
        platform = UnicodeAttribute(null=True)
        store = UnicodeAttribute(null=True)
        received_at = UnicodeAttribute(null=True)  # ISO-8601 UTC: the pending index's range
        store_day = UnicodeAttribute(null=True)  # platform#store#YYYY-MM-DD (UTC)
        ack_ms = NumberAttribute(null=True)
        message_id = UnicodeAttribute(null=True)
        raw_key = UnicodeAttribute(null=True)  # the raw payload's batch member (domain/archive)
        attempts = ListAttribute(null=True)  # type: ignore[var-annotated]
        final_outcome = UnicodeAttribute(null=True)
        pending = UnicodeAttribute(null=True)
        pending_events = PendingIndex()
        by_store_day = StoreDayIndex()

    return Models(
        CatalogItem,
        InventoryItem,
        OrderItem,
        EventItem,
        AnomalyItem,
        Connection(region=region, host=endpoint_url),
        TrailItem,
        shards,
    )


def query_sharded(
    index: Any,
    name: str,
    shards: int,
    order: Callable[[Any], str],
    *args: Any,
    unique: bool = False,
    **kwargs: Any,
) -> Iterator[Any]:
    """Query every hash value of the sharded index `name` (through pynamodb's `index`, the same
    range condition and options for each) and merge the results in `order`, the index's
    range key: what one partition gave before. Lazy: one query per value as it starts, then
    pages as they are read. A `limit` applies per shard: take the first `limit` of the merge.
    `unique` (when `order` is the item's own key): an item the eventually consistent index
    still shows under its old value as well as its new one is yielded once."""
    streams = [index.query(value, *args, **kwargs) for value in index_values(name, shards)]
    return merge_sorted(streams, order, unique=unique)
