"""A per-item write-rate limit for the local emulator: DynamoDB's hot-item ceiling, scaled down.

One DynamoDB item sustains about 1,000 write units a second; a write beyond that is throttled.
moto has no such limit, so a flash sale on one SKU looks unbounded locally. This module gives
every item a token bucket of `rate` writes a second (burst: one second's worth) and answers a
write past it the way DynamoDB does:

* PutItem / UpdateItem / DeleteItem: ``ProvisionedThroughputExceededException`` with a
  ``ThrottlingReasons`` entry ``TableWriteKeyRangeThroughputExceeded`` (botocore retries it
  on its own, as it does against AWS);
* TransactWriteItems: ``TransactionCanceledException`` whose cancellation reason is
  ``ThrottlingError`` at the throttled item's position (``None`` elsewhere); nothing applied.

Off by default (rate 0): the normal stack and tests never see it. ``configure(rate)`` turns it
on in this process (the bench does); ``ORDERHUB_ITEM_WRITE_RATE`` turns it on when the emulator
patches moto (``install``). A throttled request consumes no tokens, as in DynamoDB.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.dynamodb.exceptions import DynamodbException, TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend

RATE_ENV = "ORDERHUB_ITEM_WRITE_RATE"
_MARK = "_orderhub_item_throttle"
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"


class ItemThrottled(DynamodbException):
    """What DynamoDB answers a single-item write past the item's (partition's) limit."""

    def __init__(self, table_arn: str) -> None:
        super().__init__(
            _ERROR_PREFIX + "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded. "
            "Consider increasing your provisioning level with the UpdateTable API.",
        )
        self.description = (
            '{"__type": "'
            + _ERROR_PREFIX
            + 'ProvisionedThroughputExceededException", "message": "The level of configured '
            'provisioned throughput for the table was exceeded.", "ThrottlingReasons": '
            '[{"reason": "TableWriteKeyRangeThroughputExceeded", "resource": "' + table_arn + '"}]}'
        )


class ItemWriteLimiter:
    """Token buckets per (table, key): `rate` writes a second each, burst of `rate`."""

    def __init__(self, rate: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.rate = rate
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self.throttled = 0

    def configure(self, rate: float, clock: Callable[[], float] | None = None) -> None:
        with self._lock:
            self.rate = max(0.0, float(rate))
            self._clock = clock or time.monotonic
            self._buckets.clear()
            self.throttled = 0

    def admit(self, keys: list[tuple[str, str]]) -> int | None:
        """Take one token from each key's bucket, all or none: the index of the first key
        with an empty bucket (nothing taken), or None (all taken)."""
        if not self.rate:
            return None
        with self._lock:
            now = self._clock()
            levels = []
            for index, key in enumerate(keys):
                tokens, at = self._buckets.get(key, (self.rate, now))
                tokens = min(self.rate, tokens + (now - at) * self.rate)
                if tokens < 1.0:
                    self.throttled += 1
                    return index
                levels.append((key, tokens))
            for key, tokens in levels:
                self._buckets[key] = (tokens - 1.0, now)
            return None


LIMITER = ItemWriteLimiter()
_INSIDE = threading.local()  # within a transaction its items were admitted already


def configure(rate: float, clock: Callable[[], float] | None = None) -> None:
    """Writes a second each item may take in this process (0: no limit); `clock` (seconds)
    for tests that step time themselves."""
    LIMITER.configure(rate, clock)


def _key_of(backend: DynamoDBBackend, table_name: str, key: dict[str, Any]) -> tuple[str, str]:
    table = backend.get_table(table_name)
    parts = [str(key.get(table.hash_key_attr))]
    if table.range_key_attr:
        parts.append(str(key.get(table.range_key_attr)))
    return table.name, "|".join(parts)


def _single(method: Callable[..., Any], key_arg: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def limited(self: DynamoDBBackend, table_name: str, *args: Any, **kwargs: Any) -> Any:
        if LIMITER.rate and not getattr(_INSIDE, "transaction", False):
            key = kwargs[key_arg] if key_arg in kwargs else args[0]
            if LIMITER.admit([_key_of(self, table_name, key)]) is not None:
                raise ItemThrottled(self.get_table(table_name).table_arn)
        return method(self, table_name, *args, **kwargs)

    setattr(limited, _MARK, True)
    return limited


def _transaction(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def limited(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Any:
        if LIMITER.rate:
            keys = []
            for entry in transact_items:
                op_type, op = next(iter(entry.items()))
                key = op["Item"] if op_type == "Put" else op.get("Key", {})
                keys.append(_key_of(self, op["TableName"], key))
            blocked = LIMITER.admit(keys)
            if blocked is not None:
                reasons: list[Any] = [(None, None, None)] * len(keys)
                reasons[blocked] = (
                    "ThrottlingError",
                    "Throughput exceeds the current capacity of your table or index.",
                    None,
                )
                raise TransactionCanceledException(reasons)
        _INSIDE.transaction = True  # moto applies the items through put_item/update_item
        try:
            return method(self, transact_items)
        finally:
            _INSIDE.transaction = False

    setattr(limited, _MARK, True)
    return limited


def install(environ: Any = os.environ) -> None:
    """Wrap moto's DynamoDB writes with the limiter (idempotent); its rate from
    ``ORDERHUB_ITEM_WRITE_RATE`` when set. Unset (the default): no limit."""
    rate = environ.get(RATE_ENV)
    if rate:
        configure(float(rate))
    if getattr(DynamoDBBackend.transact_write_items, _MARK, False):
        return
    DynamoDBBackend.put_item = _single(DynamoDBBackend.put_item, "item_attrs")  # type: ignore[method-assign]
    DynamoDBBackend.update_item = _single(DynamoDBBackend.update_item, "key")  # type: ignore[method-assign]
    DynamoDBBackend.delete_item = _single(DynamoDBBackend.delete_item, "key")  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transaction(  # type: ignore[method-assign]
        DynamoDBBackend.transact_write_items
    )
