"""moto, patched for OrderHub's local emulator (local/emulator.py serializes the requests).

2. **Transactions cost O(table size).** ``DynamoDBBackend.transact_write_items`` deep-copies
   every table a transaction touches (once per item) so it can swap the copy back in if the
   transaction is cancelled. :func:`patch_moto` wraps the method so that moto's own code still
   does all the work (validation, condition checks, cancellation reasons,
   ReturnValuesOnConditionCheckFailure, MultipleTransactionsException, ...) but the table
   "copy" is the table itself, and rollback is done by restoring only the addressed items.

Why the item-level snapshot is equivalent to moto's whole-table copy:

* Every write a transaction can make lands on an item it addresses: Put writes the key taken
  from its ``Item``, Delete/Update write ``Key``, ConditionCheck writes nothing. moto builds
  those keys with ``DynamoType(...)`` exactly as we do, so our snapshot covers every item moto
  can change. Update mutates ``Item`` objects in place, so the snapshot holds deep copies.
* Requests are serialized, so nothing else changes the table between snapshot and restore.
* The remaining per-table state a write touches is the stream shard's record list; we
  remember its length and truncate it, so a cancelled transaction emits no stream records.
  Restores write ``table.items`` directly (never ``put_item``), so they emit none either.
* Re-inserting a deleted item would move it to the end of moto's dict (its scan order), so
  for Deletes of existing items we remember the key order and rebuild it on restore.

Deliberate differences from moto 5.2.5: the table object keeps its identity after a
cancellation (moto swaps in the copy); tables addressed by ARN are rolled back too (moto only
copies tables named by name); and we roll back on *any* exception, which also fixes moto
leaving earlier writes in place when a later entry has two operations
(TransactWriteSingleOpException is raised outside moto's rollback). The table is "copied"
via an instance-level ``__deepcopy__`` that exists only during the call; that is safe
because calls are serialized.

Also: moto's Query sorts the whole table (narrowed here to the matching items), moto's SQS
queue attributes are computed eagerly (lazy here), and the response serializer's attribute
lookup is memoized (see :func:`_memoized_possible_keys`), DynamoDB's attribute values
skip its model walk (local/moto_serialize.py), and update expressions are parsed once per
text (local/moto_expressions.py).
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from moto.core.serialize import AttributePicker, XFormedAttributePicker
from moto.core.utils import camelcase_to_underscores
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamRecord, Table
from moto.sqs.models import Queue as SqsQueue

from local.moto_expressions import patch_expressions
from local.moto_serialize import patch_serializer

__all__ = [
    "EAGER_QUEUE_ATTRIBUTES",
    "MOTO_QUERY",
    "MOTO_SORTED_ITEMS",
    "is_moto_patched",
    "patch_moto",
]

_PATCH_MARK = "_orderhub_item_snapshot"
_PATCH_LOCK = threading.Lock()


@dataclass
class _SavedItem:
    """Pre-transaction state of one addressed item."""

    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Item | None  # deep copy; None if the item did not exist
    had_bucket: bool  # range tables: the hash bucket existed before
    order: list[DynamoType] | None  # container key order, kept for Deletes of existing items


def _snapshot(
    backend: DynamoDBBackend, transact_items: list[dict[str, Any]]
) -> tuple[list[Table], list[_SavedItem]]:
    """Return the tables a transaction names and deep copies of the items it addresses."""
    tables: dict[int, Table] = {}
    saved: dict[tuple[int, DynamoType, DynamoType | None], _SavedItem] = {}
    for entry in transact_items:
        # Walk every op of an entry, even malformed multi-op ones moto later rejects.
        for op_type, op in entry.items():
            try:
                table = backend.get_table(op["TableName"])
            except Exception:
                continue  # unknown table: moto neither copies nor writes it
            tables[id(table)] = table
            try:
                source = op["Item"] if op_type == "Put" else op["Key"]
                hash_key = DynamoType(source[table.hash_key_attr])
                range_attr = table.range_key_attr
                range_key = DynamoType(source[range_attr]) if range_attr else None
            except Exception:
                # moto derives the written key the same way, so it cannot write here either.
                continue
            slot = (id(table), hash_key, range_key)
            if slot in saved:
                continue  # duplicate key: moto raises MultipleTransactionsException
            # Use .get, never [], on the defaultdict so the snapshot creates no buckets.
            items: Any = table.items
            bucket = items.get(hash_key)
            container = bucket if range_key is not None else items
            key = range_key if range_key is not None else hash_key
            current = container.get(key) if container is not None else None
            saved[slot] = _SavedItem(
                table=table,
                hash_key=hash_key,
                range_key=range_key,
                item=copy.deepcopy(current) if current is not None else None,
                had_bucket=bucket is not None,
                order=list(container) if current is not None and op_type == "Delete" else None,
            )
    return list(tables.values()), list(saved.values())


def _restore(saved: list[_SavedItem]) -> None:
    """Put every addressed item back exactly as it was (value, presence and key order)."""
    for s in saved:
        items: Any = s.table.items
        if s.range_key is None:
            container: Any = items
            key = s.hash_key
        else:
            if s.item is None and not s.had_bucket:
                bucket = items.get(s.hash_key)
                if bucket is not None:
                    bucket.pop(s.range_key, None)
                    if not bucket:
                        del items[s.hash_key]  # bucket created by the transaction
                continue
            container, key = items[s.hash_key], s.range_key
        if s.item is None:
            container.pop(key, None)
        elif key in container or s.order is None:
            container[key] = s.item  # existing key: dict keeps its position
        else:
            _reinsert_in_order(container, s.order, key, s.item)


def _reinsert_in_order(
    container: Any, order: list[DynamoType], key: DynamoType, item: Item
) -> None:
    """Re-insert a deleted ``item`` at its original position (moto scans in dict order)."""
    current = dict(container)
    current[key] = item
    container.clear()
    for k in order:  # original key objects, original order
        if k in current:
            container[k] = current.pop(k)
    container.update(current)  # keys added by the transaction; their own restore removes them


def _stream_marks(tables: Iterable[Table]) -> list[tuple[Any, list[StreamRecord], int]]:
    """Remember each stream shard's record list and length so rollback can truncate it."""
    return [
        (t.stream_shard, t.stream_shard.items, len(t.stream_shard.items))
        for t in tables
        if t.stream_shard is not None
    ]


def _restore_streams(marks: list[tuple[Any, list[StreamRecord], int]]) -> None:
    for shard, records, length in marks:
        del records[length:]
        # StreamShard.add swaps in a fresh list after Lambda delivery; moto's table copy
        # would bring back the old one, so do the same.
        shard.items = records


def _item_snapshot_transact_write_items(
    original: Callable[[DynamoDBBackend, list[dict[str, Any]]], None],
) -> Callable[[DynamoDBBackend, list[dict[str, Any]]], None]:
    """Wrap moto's ``transact_write_items`` to snapshot items instead of whole tables."""

    @functools.wraps(original)
    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        tables, saved = _snapshot(self, transact_items)
        marks = _stream_marks(tables)
        for table in tables:
            # moto's backup is copy.deepcopy(table); make it the table itself for this call.
            vars(table)["__deepcopy__"] = functools.partial(_same_object, table)
        try:
            original(self, transact_items)
        except BaseException:
            # moto has "restored" the tables to themselves; now undo the item writes.
            _restore(saved)
            _restore_streams(marks)
            raise
        finally:
            for table in tables:
                vars(table).pop("__deepcopy__", None)

    setattr(transact_write_items, _PATCH_MARK, True)
    return transact_write_items


def _same_object(obj: Any, memo: dict[int, Any] | None = None) -> Any:
    return obj


class _LazyQueueAttributes(Mapping[str, Any]):
    """moto's `Queue.attributes`, computing each value only when read.

    moto builds the whole dict on every access, and three of its values count the queue's
    messages: SendMessage reads `attributes` once and ReceiveMessage ten times, so each call
    cost O(queue depth) (measured: a 10-message receive at 1,500 queued took 612 ms and
    starved the worker). Same keys, same values, same order; only when they are computed.
    """

    def __init__(self, queue: Any) -> None:
        self._queue = queue
        keys = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            keys += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            keys += queue.KMS_ATTRIBUTES
        self._keys = keys

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        queue = self._queue
        if key == "Policy" and queue.policy:
            value = queue.policy
        elif key == "RedrivePolicy" and queue.redrive_policy:
            value = json.dumps(queue.redrive_policy)
        else:
            value = getattr(queue, camelcase_to_underscores(key))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def _lazy_attributes(queue: Any) -> Mapping[str, Any]:
    return _LazyQueueAttributes(queue)


EAGER_QUEUE_ATTRIBUTES = SqsQueue.__dict__["attributes"]  # moto's own, kept for comparison


MOTO_QUERY = Table.query  # moto's own, kept for the equivalence test
MOTO_SORTED_ITEMS = Table.sorted_items


def _candidates(
    table: Table,
    conditions: list[tuple[str, DynamoType]] | None,
    range_attr: str | None,
    range_comparison: str | None,
    range_objs: list[DynamoType],
) -> list[Item]:
    """The table's items, unsorted, narrowed to those whose attributes equal the Query's hash
    key values (compared as plain values: DynamoType's own comparisons are the slow part),
    then to those meeting its range key condition (moto's own `compare`)."""
    items: list[Item] = []
    for hash_set in table.items.values():
        if table.range_key_attr:
            items.extend(hash_set.values())
        else:
            items.append(hash_set)  # type: ignore[arg-type]
    for name, expected in conditions or ():
        want = (expected.type, expected.value)
        items = [
            i for i in items if (found := i.attrs.get(name)) and (found.type, found.value) == want
        ]
    if range_attr and range_comparison:
        items = [
            i
            for i in items
            if (found := i.attrs.get(range_attr)) and found.compare(range_comparison, range_objs)
        ]
    return items


def _range_attr(table: Table, index_name: str | None) -> str | None:
    if not index_name:
        return table.range_key_attr
    for index in table.all_indexes():
        if index.name == index_name:
            ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
            return ranges[0] if len(ranges) == 1 else None
    return None


def _plain(value: DynamoType) -> tuple[int, Any]:
    """A sort key with DynamoDB's order: numbers by value, strings and binary as stored."""
    if value.type == "N":
        return (0, Decimal(value.value))
    return (1, value.value)


def _plain_sorted_items(
    self: Table, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Item]
) -> list[Item]:
    """moto's `sorted_items`, ordering by plain values instead of DynamoType comparisons."""
    attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
    items.sort(key=lambda x: tuple(_plain(x.attrs[key]) for key in attrs))
    return items


def _narrowed_query(query: Any) -> Any:
    """moto's Query reads `all_items()`, which sorts the whole table by key on every call,
    then compares every item's keys as DynamoType objects, then sorts the matches itself
    (`sorted_items`, or by range key on the table): a GSI Query over 10,000 orders took
    ~190 ms in process, a table Query ~125 ms. The wrapped Query gets the items that match
    its key condition, unsorted (moto re-checks and sorts them as before, so the answers are
    the same): a plain pass over the table instead of a sort of it. DynamoDB itself reads
    only the partition's range. Safe because the emulator serializes requests (the instance
    attribute lives only during one Query)."""

    @functools.wraps(query)
    def narrowed(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        conditions = kwargs.get("hash_key_conditions")
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
        if not conditions and hash_key is not None and not index_name:
            conditions = [(self.hash_key_attr, hash_key)]  # a table Query
        ranges = kwargs.get("range_key_conditions") or []
        comparison = args[0] if args else None
        objs = list(args[1]) if len(args) > 1 and args[1] else []
        range_attr = _range_attr(self, index_name) if len(ranges) <= 1 else None
        if ranges and range_attr and ranges[-1][0] != range_attr:
            range_attr = None
        self.all_items = functools.partial(  # type: ignore[method-assign]
            _candidates, self, conditions, range_attr, comparison if objs else None, objs
        )
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    setattr(narrowed, _PATCH_MARK, True)
    return narrowed


MOTO_POSSIBLE_KEYS = {
    cls: cls.__dict__["get_possible_keys"] for cls in (AttributePicker, XFormedAttributePicker)
}  # moto's own, kept for the equivalence test


def _memoized_possible_keys(original: Callable[..., Iterator[str]]) -> Callable[..., Any]:
    """Memoize moto's `get_possible_keys` (the attribute names its response serializer tries
    for each member of each object it serializes; ~60% of the chaos tests' time, rebuilt
    with six alias providers per member per object).

    The answer depends only on the picker's alias providers, the key, the shape (and its
    parent, which `ShapePrefixAlias` reads) and the object's class (its name, its class-level
    `Meta.serialization_aliases`): that is the cache key. Objects with an instance-level
    `Meta` are not cached. The shapes are kept in the cache entry, so their ids stay theirs.
    """
    cache: dict[tuple[Any, ...], tuple[Any, Any, tuple[str, ...]]] = {}

    def get_possible_keys(self: Any, context: Any) -> Iterator[str]:
        obj, shape = context.obj, context.shape
        if "Meta" in getattr(obj, "__dict__", ()):
            return original(self, context)
        parent = getattr(shape, "parent", None)
        key: tuple[Any, ...] = (type(self), tuple(self.alias_providers), type(obj), context.key)
        key += (id(shape), id(parent))
        hit = cache.get(key)
        if hit is None or hit[0] is not shape or hit[1] is not parent:
            hit = (shape, parent, tuple(original(self, context)))
            cache[key] = hit
        return iter(hit[2])

    setattr(get_possible_keys, _PATCH_MARK, True)
    return get_possible_keys


def patch_moto() -> None:
    """Make moto's TransactWriteItems snapshot only addressed items, its Query skip a sort of
    the whole table, and its SQS queue attributes lazy. Idempotent, process-wide."""
    patch_serializer()
    patch_expressions()  # update expressions parsed once per text (local/moto_expressions.py)
    with _PATCH_LOCK:
        for picker, moto_own in MOTO_POSSIBLE_KEYS.items():
            if not getattr(picker.__dict__["get_possible_keys"], _PATCH_MARK, False):
                picker.get_possible_keys = _memoized_possible_keys(moto_own)  # type: ignore[method-assign]
        if not getattr(Table.query, _PATCH_MARK, False):
            Table.query = _narrowed_query(Table.query)  # type: ignore[method-assign]
            Table.sorted_items = _plain_sorted_items  # type: ignore[method-assign]
        if not isinstance(SqsQueue.__dict__.get("attributes"), property) or (
            SqsQueue.attributes.fget is not _lazy_attributes  # type: ignore[attr-defined]
        ):
            SqsQueue.attributes = property(_lazy_attributes)  # type: ignore[assignment,method-assign]
        current = DynamoDBBackend.transact_write_items
        if getattr(current, _PATCH_MARK, False):
            return
        patched = _item_snapshot_transact_write_items(current)
        DynamoDBBackend.transact_write_items = patched  # type: ignore[method-assign,assignment]
        from local import item_throttle  # per-item write rate: off unless configured

        item_throttle.install()


def is_moto_patched() -> bool:
    """True if :func:`patch_moto` has been applied in this process."""
    return bool(getattr(DynamoDBBackend.transact_write_items, _PATCH_MARK, False))
