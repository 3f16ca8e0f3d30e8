"""The console's reads through DynamoDB indexes (never a Scan): order search
(domain/order_search.py), the stock list, and the channels' last pushed quantities.

Read-only model classes bound to the orders and inventory tables, declaring only the console's
indexes (the writers in adapters/dynamo.py set their keys on every save): `created_day`,
`platform_day`, `platform_status`, `store_created`, `order_id_prefix` and `buyer` on orders,
`stock_list` on inventory. Pushed quantities live in the ops-stats table (`PUSHED`/sku, one
attribute per channel), written by `PushRecorder`.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any

from pynamodb.attributes import (
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from chalicelib.adapters.dynamo_items import _level_from_item
from chalicelib.adapters.dynamo_models import query_sharded
from chalicelib.domain.errors import ChannelRejected, ChannelUnavailable
from chalicelib.domain.hot_stock import fold_levels
from chalicelib.domain.index_shards import DEFAULT_INDEX_SHARDS
from chalicelib.domain.model import StockLevel
from chalicelib.domain.order_search import (
    BY_BUYER,
    BY_CREATED,
    BY_ORDER_ID,
    BY_PLATFORM_DAY,
    BY_PLATFORM_STATUS,
    SEARCH_ZONE,
    TOP,
    OrderRow,
    SearchFilters,
    created_sort_key,
    id_bucket,
    platform_status,
    store_ref,
)

ROW_ATTRIBUTES = [  # projected by the three order indexes (order_id: a key of one of them)
    "platform",
    "store",
    "status",
    "booking",
    "amount",
    "currency",
    "placed_at",
    "updated_at",
    "reason",
]
LOW = "0"  # below every created_sort (they start with a year); key values cannot be ""
PUSHED = "PUSHED"
CHANNEL_PREFIX = "ch:"


def build_search_models(
    orders_table: str, inventory_table: str, region: str, endpoint_url: str | None = None
) -> tuple[Any, Any]:
    """(orders view, inventory view): models declaring the console's indexes only."""
    orders_name, inventory_name, aws_region, endpoint = (
        orders_table,
        inventory_table,
        region,
        endpoint_url,
    )

    class StoreCreatedIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "store_created"
            projection = IncludeProjection(["order_id", *ROW_ATTRIBUTES])

        store_ref = UnicodeAttribute(hash_key=True)
        created_sort = UnicodeAttribute(range_key=True)

    class OrderIdPrefixIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "order_id_prefix"
            projection = IncludeProjection(["store_ref", *ROW_ATTRIBUTES])

        id_bucket = UnicodeAttribute(hash_key=True)
        order_id = UnicodeAttribute(range_key=True)

    class PlatformDayIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "platform_day"
            projection = IncludeProjection(["order_id", "store_ref", *ROW_ATTRIBUTES])

        platform_day = UnicodeAttribute(hash_key=True)
        created_sort = UnicodeAttribute(range_key=True)

    class PlatformStatusIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "platform_status"
            projection = IncludeProjection(["order_id", "store_ref", *ROW_ATTRIBUTES])

        platform_status = UnicodeAttribute(hash_key=True)
        created_sort = UnicodeAttribute(range_key=True)

    class CreatedDayIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "created_day"
            projection = IncludeProjection(["order_id", "store_ref", *ROW_ATTRIBUTES])

        created_day = UnicodeAttribute(hash_key=True)
        created_sort = UnicodeAttribute(range_key=True)

    class BuyerIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "buyer"
            projection = IncludeProjection(["order_id", *ROW_ATTRIBUTES])

        buyer_index = UnicodeAttribute(hash_key=True)
        created_sort = UnicodeAttribute(range_key=True)

    class OrderRowItem(Model):
        class Meta:
            table_name = orders_name
            region = aws_region
            host = endpoint

        order_key = UnicodeAttribute(hash_key=True)
        platform = UnicodeAttribute(null=True)
        store = UnicodeAttribute(null=True)
        order_id = UnicodeAttribute(null=True)
        status = UnicodeAttribute(null=True)
        booking = UnicodeAttribute(null=True)
        amount = UnicodeAttribute(null=True)
        currency = UnicodeAttribute(null=True)
        placed_at = UTCDateTimeAttribute(null=True)
        updated_at = UTCDateTimeAttribute(null=True)
        reason = UnicodeAttribute(null=True)
        store_ref = UnicodeAttribute(null=True)
        created_sort = UnicodeAttribute(null=True)
        buyer_index = UnicodeAttribute(null=True)
        created_day = UnicodeAttribute(null=True)
        id_bucket = UnicodeAttribute(null=True)
        platform_day = UnicodeAttribute(null=True)
        platform_status = UnicodeAttribute(null=True)
        by_store_created = StoreCreatedIndex()
        by_platform_day = PlatformDayIndex()
        by_platform_status = PlatformStatusIndex()
        by_order_id_prefix = OrderIdPrefixIndex()
        by_created_day = CreatedDayIndex()
        by_buyer = BuyerIndex()

    class StockListIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "stock_list"
            projection = AllProjection()

        listed = UnicodeAttribute(hash_key=True)
        sku = UnicodeAttribute(range_key=True)

    class StockLevelItem(Model):
        class Meta:
            table_name = inventory_name
            region = aws_region
            host = endpoint

        sku = UnicodeAttribute(hash_key=True)
        warehouse = UnicodeAttribute(range_key=True)
        on_hand = NumberAttribute(null=True)
        locked = NumberAttribute(null=True)
        reserved = NumberAttribute(null=True)
        available = NumberAttribute(null=True)
        safety_stock = NumberAttribute(null=True)
        holdback = NumberAttribute(null=True)
        holdback_channels = ListAttribute(null=True)  # type: ignore[var-annotated]
        listed = UnicodeAttribute(null=True)
        by_listing = StockListIndex()

    return OrderRowItem, StockLevelItem


FILTERED_PAGE = 200  # items a filtered Query evaluates per call (its Limit counts them all)


def _page_size(limit: int, extra: Any) -> int:
    """A Query's Limit counts the items it evaluates before the filter: with a filter, read
    more per call rather than call again for every few matches."""
    return limit if extra is None else max(limit, FILTERED_PAGE)


def _window(low: str, high: str, after: str) -> tuple[str, str]:
    """`created_sort` bounds of a newest-first read: the day range, cut at the cursor."""
    return low or LOW, min(high, after) if after else high


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


class DynamoOrderSearch:
    """`OrderSearch` over the orders table's console indexes: one Query per call."""

    def __init__(self, model: Any) -> None:
        self._m = model

    def _row(self, item: Any, sort_key: str) -> OrderRow:
        return OrderRow(
            platform=item.platform or "",
            store=item.store or "",
            order_id=item.order_id or "",
            status=item.status or "",
            booking=item.booking or "",
            placed_at=_iso(item.placed_at) or (item.created_sort or "").split("#")[0],
            updated_at=_iso(item.updated_at),
            amount=item.amount or "0",
            currency=item.currency or "",
            reason=item.reason or "",
            sort_key=sort_key,
        )

    def _filter(
        self,
        filters: SearchFilters,
        by_store: bool = True,
        by_platform: bool = True,
        by_status: bool = True,
    ) -> Any:
        """Status, booking, platform and store as a filter expression (None: none)."""
        m = self._m
        parts = []
        if filters.statuses and by_status:
            parts.append(m.status.is_in(*filters.statuses))
        if filters.bookings:
            parts.append(m.booking.is_in(*filters.bookings))
        if filters.store:
            if by_store:  # (the store index's own partition needs no filter)
                parts.append(m.store_ref == store_ref(filters.platform, filters.store))
        elif filters.platform and by_platform:
            parts.append(m.platform == filters.platform)
        condition = None
        for part in parts:
            condition = part if condition is None else condition & part
        return condition

    def search(
        self, filters: SearchFilters, after: str, limit: int, day: str = ""
    ) -> list[OrderRow]:
        m = self._m
        if filters.index == BY_ORDER_ID:
            return list(self._by_order_id(filters, after, limit))
        if filters.index == BY_PLATFORM_STATUS:
            return self._by_platform_status(filters, after, limit)
        low, high = filters.created_range()
        if filters.index == BY_BUYER:
            index, key, extra = m.by_buyer, filters.buyer, self._filter(filters)
        elif filters.index == BY_CREATED:
            key = store_ref(filters.platform, filters.store)
            index, extra = m.by_store_created, self._filter(filters, by_store=False)
        else:
            start = datetime.combine(date.fromisoformat(day), time(), SEARCH_ZONE)
            low = max(low, created_sort_key(start, ""))
            high = min(high, created_sort_key(start + timedelta(days=1), ""))
            if filters.index == BY_PLATFORM_DAY:
                index, key = m.by_platform_day, f"{filters.platform}#{day}"
                extra = self._filter(filters, by_platform=False)
            else:
                index, key, extra = m.by_created_day, day, self._filter(filters)
        low, high = _window(low, high, after)
        if high < low:
            return []
        return list(islice(self._newest_first(index, key, low, high, extra, after, limit), limit))

    def _newest_first(
        self, index: Any, key: str, low: str, high: str, extra: Any, after: str, limit: int
    ) -> Iterator[OrderRow]:
        """One index partition's rows between `created_sort` bounds, newest first, after the
        cursor's own row."""
        whole = low == LOW and high == TOP  # no day bound, no cursor: the whole partition
        items = index.query(
            key,
            None if whole else self._m.created_sort.between(low, high),
            filter_condition=extra,
            scan_index_forward=False,
            page_size=_page_size(limit, extra),
        )
        for item in items:
            if item.created_sort == after:
                continue  # `between` is inclusive: the cursor's own row was shown already
            yield self._row(item, item.created_sort)

    def _by_platform_status(self, filters: SearchFilters, after: str, limit: int) -> list[OrderRow]:
        """One partition per status asked (`platform#status`), merged newest first."""
        low, high = _window(*filters.created_range(), after)
        if high < low:
            return []
        extra = self._filter(filters, by_platform=False, by_status=False)
        index = self._m.by_platform_status
        streams = [
            self._newest_first(
                index, platform_status(filters.platform, status), low, high, extra, after, limit
            )
            for status in filters.statuses
        ]
        merged = heapq.merge(*streams, key=lambda row: row.sort_key, reverse=True)
        return list(islice(merged, limit))

    def _by_order_id(self, filters: SearchFilters, after: str, limit: int) -> Iterator[OrderRow]:
        """Ascending by order id from the prefix, resuming after `after` (`id\nstore`)."""
        m = self._m
        prefix = filters.order_id_prefix
        after_id = after.split("\n")[0] if after else ""
        if after_id:
            condition = m.order_id.between(max(prefix, after_id), prefix + TOP)
        else:
            condition = m.order_id.startswith(prefix)
        extra = self._filter(filters)
        if filters.day_from or filters.day_to:
            low, high = filters.created_range()
            span = m.created_sort.between(low or LOW, high)
            extra = span if extra is None else extra & span
        items = m.by_order_id_prefix.query(
            id_bucket(prefix), condition, filter_condition=extra, page_size=_page_size(limit, extra)
        )
        found = 0
        for item in items:
            key = f"{item.order_id}\n{item.store_ref}"
            if after and key <= after:
                continue
            yield self._row(item, key)
            found += 1
            if found == limit:
                return


class DynamoStockList:
    """Every stock item through the `stock_list` index, by SKU: its `shards` hash values
    (write-sharded by `sku#warehouse`, as every stock write sets it: domain/index_shards.py)
    merged by
    SKU, so `after_sku` is a position in every shard at once."""

    def __init__(self, model: Any, shards: int = DEFAULT_INDEX_SHARDS) -> None:
        self._m = model
        self._shards = shards

    def page(
        self, after_sku: str, limit: int, low_stock: bool, sku_prefix: str
    ) -> list[StockLevel]:
        """Whole SKUs (all their warehouses) after `after_sku`, up to `limit` SKUs."""
        m = self._m
        if after_sku:
            condition = m.sku.between(max(after_sku, sku_prefix), sku_prefix + TOP)
        elif sku_prefix:
            condition = m.sku.startswith(sku_prefix)
        else:
            condition = None
        low = None
        if low_stock:  # at or below its safety stock, or sold out
            low = (m.available <= m.safety_stock) | (m.available <= 0)
        items = query_sharded(
            m.by_listing,
            "stock_list",
            self._shards,
            _by_sku,
            condition,
            filter_condition=low,
            page_size=max(limit * 2 // self._shards, 10),
        )
        rows: list[StockLevel] = []
        skus: list[str] = []
        for item in items:
            if after_sku and item.sku <= after_sku:
                continue
            if not skus or skus[-1] != item.sku:
                if len(skus) == limit:
                    break
                skus.append(item.sku)
            rows.append(_level_from_item(item))
        return fold_levels(rows)  # a hot SKU's shard items summed into its warehouse


class PushRecorder:
    """The last quantity pushed to each channel per SKU, and when: one item per SKU in the
    ops-stats table (`pk` PUSHED, `sk` the SKU), one attribute per channel, each push one
    UpdateItem of that attribute (no read)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def record(self, sku: str, platform: str, store: str, quantity: int, at: datetime) -> None:
        self.record_many(sku, [(platform, store, quantity)], at)

    def record_many(self, sku: str, pushed: Sequence[tuple[str, str, int]], at: datetime) -> None:
        """One SKU's pushes of a run, every channel in the same UpdateItem."""
        if not pushed:
            return
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        for n, (platform, store, quantity) in enumerate(pushed):
            names[f"#c{n}"] = f"{CHANNEL_PREFIX}{platform}#{store}"
            values[f":v{n}"] = {
                "M": {"quantity": {"N": str(quantity)}, "at": {"S": at.isoformat()}}
            }
        self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": PUSHED}, "sk": {"S": sku}},
            UpdateExpression="SET " + ", ".join(f"{c} = :v{c[2:]}" for c in names),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def last_pushed(self, skus: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Per SKU: [{platform, store, quantity, at}] (BatchGetItem, 100 keys a call)."""
        found: dict[str, list[dict[str, Any]]] = {}
        unique = list(dict.fromkeys(skus))
        for start in range(0, len(unique), 100):
            keys = [{"pk": {"S": PUSHED}, "sk": {"S": s}} for s in unique[start : start + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys}}
            while request:
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table, []):
                    found[item["sk"]["S"]] = _channels(item)
                request = answer.get("UnprocessedKeys") or {}
        return found


def _channels(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    channels = []
    for name, value in sorted(item.items()):
        if not name.startswith(CHANNEL_PREFIX):
            continue
        platform, _, store = name[len(CHANNEL_PREFIX) :].partition("#")
        fields = value.get("M", {})
        channels.append(
            {
                "platform": platform,
                "store": store,
                "quantity": int(fields.get("quantity", {}).get("N", "0")),
                "at": fields.get("at", {}).get("S", ""),
            }
        )
    return channels


class RecordingPushClient:
    """A `StockPushClient` that records each delivered push (the console's per-channel
    pushed quantity). A record that cannot be written is reported to `on_error` and never
    fails the push: the channel has the quantity either way. Inside `run` (a push run) the
    records wait for its end and go one UpdateItem per SKU, every channel together, and the
    inner client's own `run` (the listings read at once) is entered too."""

    def __init__(
        self,
        inner: Any,
        recorder: PushRecorder,
        now: Any,
        on_error: Any = None,
    ) -> None:
        self._inner = inner
        self._recorder = recorder
        self._now = now
        self._on_error = on_error
        self._run = threading.local()  # per thread: the pollers share one client

    def push(self, platform: str, store: str, sku: str, quantity: int) -> Any:
        result = self._inner.push(platform, store, sku, quantity)
        self._delivered(sku, platform, store, quantity)
        return result

    def push_many(
        self, platform: str, store: str, items: Sequence[tuple[str, int]]
    ) -> dict[str, Exception | None]:
        """One channel's SKUs through the inner client's `push_many` (the platform's
        batches), recording those delivered."""
        many = getattr(self._inner, "push_many", None)
        if callable(many):
            answered = dict(many(platform, store, items))
        else:
            answered = {}
            for sku, quantity in items:
                try:
                    self._inner.push(platform, store, sku, quantity)
                    answered[sku] = None
                except (ChannelUnavailable, ChannelRejected) as exc:
                    answered[sku] = exc
        for sku, quantity in items:
            if sku in answered and answered[sku] is None:
                self._delivered(sku, platform, store, quantity)
        return answered

    @contextlib.contextmanager
    def run(self, pushes: Iterable[tuple[str, str, str]]) -> Iterator[None]:
        inner = getattr(self._inner, "run", None)
        pending: dict[str, list[tuple[str, str, int]]] = {}
        self._run.pending = pending
        try:
            with inner(pushes) if callable(inner) else contextlib.nullcontext():
                yield
        finally:
            self._run.pending = None
            at = self._now()
            for sku, pushed in pending.items():
                self._write(functools.partial(self._recorder.record_many, sku, pushed, at))

    def _delivered(self, sku: str, platform: str, store: str, quantity: int) -> None:
        pending = getattr(self._run, "pending", None)
        if pending is not None:
            pending.setdefault(sku, []).append((platform, store, quantity))
            return
        at = self._now()
        self._write(lambda: self._recorder.record(sku, platform, store, quantity, at))

    def _write(self, write: Callable[[], None]) -> None:
        try:
            write()
        except Exception as exc:
            if self._on_error is not None:
                self._on_error(exc)


def _by_sku(item: Any) -> str:
    return str(item.sku)
