"""After-sales requests in DynamoDB (`orderhub-after-sales`), one item per request.

Hash `request_key` (`platform#store#request_id`). Two indexes:

- `unanswered` (sparse): hash `waiting` (`waiting#k`, write-sharded by request key, see
  domain/index_shards.py; "1" on requests written before; present only while the request
  waits for an answer), range `waiting_since` (the request's time, fixed-width UTC text),
  projecting `order_key` (the anomaly's subject). The anomaly scan's `AfterSalesFeed`
  queries it for requests waiting since a moment or earlier.
- `opened_day`: hash `opened_day` (the Beijing day the request was first seen), range
  `request_key`, keys-only. The daily KPI counts it (Select COUNT) for the customer chase rate.
- `by_order`: hash `order_key`, range `request_key`, all attributes: the order timeline's
  after-sales requests (`for_order`). A request whose answer came first without an order id
  has no `order_key` and is not in it.

Each event is one conditional write (domain/after_sales.py says what each kind does): a
request is created waiting only if the key is new, so a repeat or a late request for an
answered one changes nothing; an answer removes `waiting` and keeps the first `opened_day`.
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import islice
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import (
    AllProjection,
    GlobalSecondaryIndex,
    IncludeProjection,
    KeysOnlyProjection,
)
from pynamodb.models import Model

from chalicelib.domain.after_sales import REQUESTED, AfterSalesEvent
from chalicelib.domain.anomalies import parse_time_key, time_key
from chalicelib.domain.anomaly_rules import Waiting
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.index_shards import (
    DEFAULT_INDEX_SHARDS,
    merge_sorted,
    shard_value,
    shard_values,
)

WAITING = "1"
CONDITION_FAILED = "ConditionalCheckFailedException"


def build_after_sales_model(table_name: str, region: str, endpoint_url: str | None = None) -> Any:
    table, aws_region, endpoint = table_name, region, endpoint_url

    class UnansweredIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "unanswered"
            projection = IncludeProjection(["order_key"])

        waiting = UnicodeAttribute(hash_key=True)
        waiting_since = UnicodeAttribute(range_key=True)

    class OpenedDayIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "opened_day"
            projection = KeysOnlyProjection()

        opened_day = UnicodeAttribute(hash_key=True)
        request_key = UnicodeAttribute(range_key=True)

    class ByOrderIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "by_order"
            projection = AllProjection()

        order_key = UnicodeAttribute(hash_key=True)
        request_key = UnicodeAttribute(range_key=True)

    class AfterSalesRequest(Model):
        class Meta:
            table_name = table
            region = aws_region
            host = endpoint

        request_key = UnicodeAttribute(hash_key=True)
        platform = UnicodeAttribute(null=True)
        store = UnicodeAttribute(null=True)
        order_key = UnicodeAttribute(null=True)
        requested_at = UnicodeAttribute(null=True)  # time_key
        answered_at = UnicodeAttribute(null=True)  # time_key
        opened_day = UnicodeAttribute(null=True)
        waiting = UnicodeAttribute(null=True)
        waiting_since = UnicodeAttribute(null=True)
        last_event_key = UnicodeAttribute(null=True)
        detail = UnicodeAttribute(null=True)
        unanswered = UnansweredIndex()
        by_opened_day = OpenedDayIndex()
        by_order = ByOrderIndex()

    return AfterSalesRequest


def _condition_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == CONDITION_FAILED


class DynamoAfterSales:
    """`after_sales.AfterSalesLog` and `anomalies.AfterSalesFeed` on `orderhub-after-sales`."""

    def __init__(self, model: Any, shards: int = DEFAULT_INDEX_SHARDS) -> None:
        self._m = model
        self._shards = shards  # `waiting` is write-sharded by request key: `waiting#k`

    def record(self, event: AfterSalesEvent) -> bool:
        m = self._m
        at = time_key(event.at)
        if event.kind == REQUESTED:
            item = m(
                event.request_key,
                platform=event.platform,
                store=event.store,
                order_key=event.order_key,
                requested_at=at,
                opened_day=event.opened_day,
                waiting=shard_value("waiting", event.request_key, self._shards),
                waiting_since=at,
                last_event_key=event.event_key,
                detail=event.detail,
            )
            try:
                item.save(condition=m.request_key.does_not_exist())
            except PutError as exc:
                if _condition_failed(exc):
                    return False  # known already: a repeat, or answered before it came
                raise TransientFailure(f"after-sales write failed: {exc}") from exc
            return True
        actions = [
            m.platform.set(event.platform),
            m.store.set(event.store),
            m.answered_at.set(at),
            m.opened_day.set(m.opened_day | event.opened_day),
            m.last_event_key.set(event.event_key),
            m.detail.set(event.detail),
            m.waiting.remove(),
            m.waiting_since.remove(),
        ]
        if event.order_key:
            actions.append(m.order_key.set(m.order_key | event.order_key))
        try:
            m(event.request_key).update(
                actions=actions,
                condition=m.answered_at.does_not_exist() | (m.answered_at < at),
            )
        except UpdateError as exc:
            if _condition_failed(exc):
                return False  # this answer (or a later one) is recorded already
            raise TransientFailure(f"after-sales write failed: {exc}") from exc
        return True

    def unanswered(self, before: datetime, limit: int = 500) -> list[Waiting]:
        """Requests waiting since `before` or earlier, oldest first: (order key, since)."""
        m = self._m
        due = m.waiting_since <= time_key(before)
        streams = [
            m.unanswered.query(value, due, limit=limit)
            for value in shard_values("waiting", self._shards, legacy=WAITING)
        ]
        items = islice(merge_sorted(streams, _by_since), limit)
        return [
            Waiting(i.order_key or i.request_key, parse_time_key(i.waiting_since)) for i in items
        ]

    def opened_on(self, day: date) -> int:
        """Requests first seen on Beijing `day` (the chase rate's numerator)."""
        return int(self._m.by_opened_day.count(day.isoformat()))

    def for_order(self, order_key: str, limit: int = 50) -> list[dict[str, Any]]:
        """The order's after-sales requests (the timeline's `after_sales` entries)."""
        rows = []
        for item in self._m.by_order.query(order_key, limit=limit):
            rows.append(
                {
                    "request_key": item.request_key,
                    "platform": item.platform,
                    "requested_at": item.requested_at,
                    "answered_at": item.answered_at,
                    "waiting": bool(item.waiting),
                    "detail": item.detail or "",
                }
            )
        return rows


def _by_since(item: Any) -> str:
    return str(item.waiting_since)
