"""Write-sharded sparse indexes: one index hash value becomes `N`, chosen from the item's key.

A sparse GSI whose hash key holds one constant value ("1", "R") puts every index write on one
index partition, and one partition takes about 1,000 write units a second. So the value each
item writes is `<base>#<k>`, `k` a stable hash of the item's key modulo `N` (the same item
always lands in the same shard, so moving in and out of the index never strands a copy), and
every reader queries the `N` values (plus the old constant, until a backfill has rewritten the
items written before sharding) and merges them in the order it needs: a k-way merge on the
index's range key, which is what one partition gave it before. A cursor on the range key
(`after_sku`, `received_at < x`) is a position in every shard at once, so paging needs no
per-shard state.

`N` may grow at any time (readers of `0..N'-1` see every value written with `N < N'`); to
shrink it, backfill first (`shard_value` gives the new value) and then lower it. Pure.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

DEFAULT_INDEX_SHARDS = 16  # 16 x 1,000 WCU/s per index: see docs/architecture.md, "Scale"
MAX_INDEX_SHARDS = 256  # a reader's fan-out: each read is N + 1 queries

T = TypeVar("T")


def shard_of(key: str, shards: int) -> int:
    """A stable shard number for `key` in 0..shards-1 (CRC-32: the same in every process and
    every release, unlike Python's salted `hash`)."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    return zlib.crc32(key.encode("utf-8")) % shards


def shard_value(base: str, key: str, shards: int) -> str:
    """The index hash value an item keyed `key` writes: `<base>#<k>` (e.g. `open#7`)."""
    return f"{base}#{shard_of(key, shards)}"


def shard_values(base: str, shards: int, legacy: str | None = None) -> list[str]:
    """Every value a reader must query: the `shards` shards, then the constant written before
    sharding (`legacy`), if any, so items not yet backfilled are still found."""
    values = [f"{base}#{k}" for k in range(shards)]
    if legacy is not None and legacy not in values:
        values.append(legacy)
    return values


def merge_sorted(
    streams: Iterable[Iterable[T]], key: Callable[[T], str], unique: bool = False
) -> Iterator[T]:
    """A k-way merge of streams each already sorted by `key` (an index's range key order), read
    lazily: the first item of each stream, then one more per item taken. `unique` drops items
    whose key equals the previous one's (an item seen in its old and its new shard while a
    backfill rewrites it)."""
    merged = heapq.merge(*streams, key=key)
    if not unique:
        yield from merged
        return
    last: object = _NOTHING
    for item in merged:
        k = key(item)
        if k != last:
            yield item
        last = k


_NOTHING = object()
