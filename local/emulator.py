"""Local AWS emulator for OrderHub: moto's server, serialized and with cheap transactions.

Two problems with a stock moto server, and what this module does about them:

1. **Races.** moto's DynamoDB backend does read-check-write without a lock, so concurrent
   conditional writes against a threaded server oversell. :class:`SerializedApp` runs every
   request (body read, moto call, response body) under one lock, which makes each API call
   atomic, like the real service.

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
"""

from __future__ import annotations

import argparse
import copy
import functools
import io
import json
import logging
import os
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from decimal import Decimal
from types import FrameType, TracebackType
from typing import Any, Self

from moto.core.utils import camelcase_to_underscores
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamRecord, Table
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.sqs.models import Queue as SqsQueue
from werkzeug.serving import BaseWSGIServer, make_server

__all__ = [
    "Emulator",
    "SerializedApp",
    "classify_request",
    "is_moto_patched",
    "main",
    "patch_moto",
    "set_fake_aws_env",
]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

CONTROL_PATH = "/_orderhub/requests"
CONTROL_RESET_PATH = "/_orderhub/requests/reset"

_PATCH_MARK = "_orderhub_item_snapshot"
_PATCH_LOCK = threading.Lock()

# --------------------------------------------------------------------------- environment


def set_fake_aws_env(environ: MutableMapping[str, str], region: str = "us-east-1") -> None:
    """Point ``environ`` at a fake account: fixed test credentials and ``region``.

    Always overwrites: the local stack must never pick up (or leak requests signed with)
    a real account's credentials or profile.
    """
    environ["AWS_ACCESS_KEY_ID"] = "testing"
    environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    environ["AWS_DEFAULT_REGION"] = region
    environ["AWS_REGION"] = region
    # A profile or session token would override/extend the fake keys in botocore's chain.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        environ.pop(name, None)


# --------------------------------------------------------------------------- moto patch


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


def patch_moto() -> None:
    """Make moto's TransactWriteItems snapshot only addressed items, its Query skip a sort of
    the whole table, and its SQS queue attributes lazy. Idempotent, process-wide."""
    with _PATCH_LOCK:
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


# --------------------------------------------------------------------------- WSGI wrapper

_SCOPE_RE = re.compile(r"Credential=[^/,\s]*/[^/]*/[^/]*/([^/]+)/aws4_request")
_ACTION_RE = re.compile(r"(?:^|&)Action=([^&]*)")
_TARGET_VERSION_RE = re.compile(r"_\d{8}$")


def _service_from_target(prefix: str) -> str:
    """Best-effort service from an unsigned target prefix ("AmazonSQS" -> "sqs")."""
    name = _TARGET_VERSION_RE.sub("", prefix)
    for vendor in ("Amazon", "AWS"):
        if name.startswith(vendor) and len(name) > len(vendor):
            name = name[len(vendor) :]
            break
    return name.lower()


def _form_body(environ: dict[str, Any]) -> str:
    """Read a form-encoded body and put it back for moto (as moto's own dispatcher does)."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return ""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    if length <= 0:
        return ""
    body: bytes = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    return body.decode("utf-8", "replace")


def classify_request(environ: dict[str, Any]) -> str:
    """Return "service.Operation" for an AWS request (may consume and replace the body).

    The service is the SigV4 credential scope's (botocore's signing name, the most reliable
    name), else derived from ``X-Amz-Target``. The operation is the target's suffix, else the
    query-protocol ``Action`` (query string or form body), else the HTTP method (REST APIs).
    """
    match = _SCOPE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = match.group(1) if match else ""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        prefix, _, operation = target.rpartition(".")
        return f"{service or _service_from_target(prefix)}.{operation}"
    if not service:
        service = "moto-api" if environ.get("PATH_INFO", "").startswith("/moto-api") else "unknown"
    action = _ACTION_RE.search(environ.get("QUERY_STRING", "")) or _ACTION_RE.search(
        _form_body(environ)
    )
    if action:
        return f"{service}.{action.group(1)}"
    return f"{service}.{environ.get('REQUEST_METHOD', 'GET')}"


LONG_POLL_INTERVAL = 0.05  # seconds between immediate receives while a long poll waits


def _long_poll(environ: dict[str, Any]) -> tuple[float, bytes] | None:
    """(wait seconds, body with WaitTimeSeconds=0) for an SQS JSON-protocol long poll.

    Only the request's own WaitTimeSeconds is honoured here; a queue whose
    ReceiveMessageWaitTimeSeconds attribute is set would still wait inside moto (our queues
    leave it at 0).
    """
    if environ.get("HTTP_X_AMZ_TARGET") != "AmazonSQS.ReceiveMessage":
        return None
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        request = json.loads(body or b"{}")
        wait = float(request.get("WaitTimeSeconds") or 0)
    except (ValueError, TypeError, AttributeError):
        return None
    if wait <= 0:
        return None
    request["WaitTimeSeconds"] = 0
    return wait, json.dumps(request).encode()


FAULTS_PATH = "/_orderhub/faults"
_DDB = "com.amazonaws.dynamodb.v20120810#"


class FaultInjector:
    """Chaos for benchmarks and tests: at `rate`, answer a request with a failure AWS really
    gives, before moto sees it. DynamoDB reads get throttled or a 500 (botocore retries those);
    TransactWriteItems is cancelled with TransactionConflict (our code re-plans); SQS
    DeleteMessageBatch answers success without deleting — the effect of a Lambda that crashed
    after its DynamoDB commit and before the delete: the message comes back later."""

    OPERATIONS = (
        "dynamodb.GetItem",
        "dynamodb.Query",
        "dynamodb.TransactWriteItems",
        "sqs.DeleteMessageBatch",
    )

    def __init__(self) -> None:
        self.rate = 0.0
        self._rng = random.Random(0)
        self.injected: dict[str, int] = {}

    def configure(self, rate: float, seed: int) -> None:
        self.rate, self._rng, self.injected = max(0.0, min(1.0, rate)), random.Random(seed), {}

    def status(self) -> dict[str, Any]:
        return {"rate": self.rate, "injected": dict(sorted(self.injected.items()))}

    def fault(self, key: str, body: bytes) -> tuple[str, dict[str, Any]] | None:
        """(HTTP status, JSON body) of an injected failure, or None to let moto answer."""
        if not self.rate or key not in self.OPERATIONS or self._rng.random() >= self.rate:
            return None
        if key == "dynamodb.TransactWriteItems":
            items = len(json.loads(body or b"{}").get("TransactItems", [])) or 1
            kind, answer = (
                "transaction_conflict",
                (
                    "400 Bad Request",
                    {
                        "__type": f"{_DDB}TransactionCanceledException",
                        "Message": "Transaction cancelled, please refer cancellation reasons for "
                        "specific reasons [TransactionConflict] (injected)",
                        "CancellationReasons": [
                            {"Code": "TransactionConflict", "Message": "injected"}
                        ]
                        + [{"Code": "None"}] * (items - 1),
                    },
                ),
            )
        elif key == "sqs.DeleteMessageBatch":
            entries = json.loads(body or b"{}").get("Entries", [])
            kind, answer = (
                "lost_delete",
                ("200 OK", {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}),
            )
        elif self._rng.random() < 0.5:
            kind, answer = (
                "throttle",
                (
                    "400 Bad Request",
                    {"__type": f"{_DDB}ThrottlingException", "message": "Rate exceeded (injected)"},
                ),
            )
        else:
            kind, answer = (
                "server_error",
                (
                    "500 Internal Server Error",
                    {"__type": f"{_DDB}InternalServerError", "message": "injected"},
                ),
            )
        self.injected[kind] = self.injected.get(kind, 0) + 1
        return answer


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body: bytes = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


class SerializedApp:
    """WSGI wrapper running each request under one lock and counting (service, operation)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.faults = FaultInjector()
        self._total = 0
        self._counts: dict[str, int] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_orderhub/"):
            return self._control(
                path, environ.get("REQUEST_METHOD", "GET"), start_response, _read_body(environ)
            )
        long_poll = _long_poll(environ)
        if long_poll is not None:
            return self._long_poll(environ, start_response, *long_poll)
        return self._serialized(environ, start_response)

    def _long_poll(
        self, environ: dict[str, Any], start_response: StartResponse, wait: float, body: bytes
    ) -> list[bytes]:
        """Answer an SQS long poll without holding the lock while it waits.

        moto implements WaitTimeSeconds by waiting inside the request, which under our lock
        would stall every other client (including the sender of the message it waits for).
        Instead: immediate receives under the lock, with short sleeps outside it, until a
        message arrives or the wait is over. Counted as one request, as AWS would bill it.
        """
        deadline = time.monotonic() + wait
        counted = False
        captured: list[Any] = []

        def capture(status: str, headers: list[Any], exc_info: Any = None) -> Any:
            captured[:] = [status, headers, exc_info]
            return lambda data: None

        while True:
            attempt = dict(environ, CONTENT_LENGTH=str(len(body)))
            attempt["wsgi.input"] = io.BytesIO(body)
            payload = b"".join(self._serialized(attempt, capture, count=not counted))
            counted = True
            if not captured[0].startswith("200") or time.monotonic() >= deadline:
                break
            try:
                if json.loads(payload or b"{}").get("Messages"):
                    break
            except ValueError:
                break
            time.sleep(LONG_POLL_INTERVAL)
        start_response(*captured)
        return [payload]

    def _serialized(
        self, environ: dict[str, Any], start_response: StartResponse, count: bool = True
    ) -> list[bytes]:
        with self.lock:
            key = classify_request(environ)
            if count:
                self._counts[key] = self._counts.get(key, 0) + 1
                self._total += 1
            injected = self.faults.fault(key, _read_body(environ)) if self.faults.rate else None
            if injected is not None:
                return _json_response(start_response, injected[0], injected[1])
            result = self.app(environ, start_response)
            # Materialize inside the lock: a lazy body may still read backend state.
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        return [body]

    def counts(self) -> dict[str, Any]:
        """Return {"total": n, "by_operation": {"service.Op": n, ...}}."""
        with self.lock:
            return {"total": self._total, "by_operation": dict(sorted(self._counts.items()))}

    def reset_counts(self) -> None:
        """Zero all request counts."""
        with self.lock:
            self._total = 0
            self._counts.clear()

    def _control(
        self, path: str, method: str, start_response: StartResponse, body: bytes = b""
    ) -> list[bytes]:
        if path == FAULTS_PATH:
            if method == "POST":
                settings = json.loads(body or b"{}")
                with self.lock:
                    self.faults.configure(
                        float(settings.get("rate", 0)), int(settings.get("seed", 0))
                    )
            with self.lock:
                return _json_response(start_response, "200 OK", self.faults.status())
        if path == CONTROL_PATH and method == "GET":
            return _json_response(start_response, "200 OK", self.counts())
        if path == CONTROL_RESET_PATH and method == "POST":
            self.reset_counts()
            return _json_response(start_response, "200 OK", {"total": 0, "by_operation": {}})
        if path in (CONTROL_PATH, CONTROL_RESET_PATH):
            return _json_response(start_response, "405 Method Not Allowed", {"error": method})
        return _json_response(start_response, "404 Not Found", {"error": path})


def _json_response(start_response: StartResponse, status: str, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


# --------------------------------------------------------------------------- server


class Emulator:
    """moto server (patched, serialized) on a background thread. Use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = port
        self.app: SerializedApp | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Patch moto, bind the port (errors raise here) and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        patch_moto()
        from local.alarm_actions import patch_local_aws

        patch_local_aws()  # alarm actions to SNS, SMS to the local phone (moto does neither)
        # Per-request access logs would drown test output; errors still get through.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Same app and handler as moto's ThreadedMotoServer, wrapped in the lock.
        self.app = SerializedApp(DomainDispatcherApplication(create_backend_app))
        try:
            self._server = make_server(
                self.host,
                self._requested_port,
                self.app,
                threaded=True,
                request_handler=MotoRequestHandler,
            )
        except SystemExit as exc:
            # werkzeug prints the reason and calls sys.exit() on bind errors; a library
            # caller (a test fixture) should get an exception it can handle instead.
            raise OSError(f"cannot listen on {self.host}:{self._requested_port}") from exc
        self._thread = threading.Thread(
            # A short poll interval makes stop() return in ~50 ms instead of ~500 ms.
            target=functools.partial(self._server.serve_forever, poll_interval=0.05),
            name=f"emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        if self._server is None:
            raise RuntimeError("emulator not started")
        return int(self._server.server_port)

    @property
    def endpoint_url(self) -> str:
        """Base URL for boto3's ``endpoint_url``."""
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def stop(self) -> None:
        """Stop serving and release the port. Safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> None:
    """Run the emulator in the foreground until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m local.emulator", description="OrderHub local AWS emulator (moto)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000, help="0 picks a free port")
    parser.add_argument("--region", default="us-east-1")
    args = parser.parse_args(argv)

    set_fake_aws_env(os.environ, args.region)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Installed before start so an early Ctrl-C ends cleanly instead of with a traceback.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    emulator = Emulator(args.host, args.port)
    try:
        try:
            emulator.start()
        except OSError as exc:  # e.g. port in use: a message, not a traceback
            sys.exit(f"emulator: {exc}")
        print(f"emulator listening on {emulator.endpoint_url}", flush=True)
        # Short waits keep the main thread responsive to signals on every platform.
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
