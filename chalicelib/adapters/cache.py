"""A small time- and size-bounded cache in front of the catalog: stores and keys change rarely,
and the webhook path should not pay a DynamoDB read per delivery.

Bounded in size too (`max_entries`, least recently used out first): keys are caller-chosen
(an unknown API key, a store id in a URL), so a caller sending 20,000 unknown keys must not
leave 20,000 entries in a warm function."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from chalicelib.domain.ports import Catalog, Store, Warehouse

T = TypeVar("T")


class CachedCatalog:
    def __init__(
        self,
        catalog: Catalog,
        ttl_seconds: float = 60.0,
        miss_ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 1000,
    ) -> None:
        self._catalog = catalog
        self._ttl = ttl_seconds
        self._miss_ttl = miss_ttl_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, ...], tuple[float, Any]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _cached(self, key: tuple[str, ...], load: Callable[[], T]) -> T:
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            self._entries.move_to_end(key)
            return hit[1]
        value = load()
        ttl = self._ttl if value is not None else self._miss_ttl
        self._entries[key] = (now + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)  # the least recently used
        return value

    def get_store(self, platform: str, store_id: str) -> Store | None:
        return self._cached(
            ("store", platform, store_id), lambda: self._catalog.get_store(platform, store_id)
        )

    def list_warehouses(self) -> list[Warehouse]:
        return self._cached(("warehouses",), self._catalog.list_warehouses)

    def list_stores(self) -> list[Store]:
        return self._cached(("stores",), self._catalog.list_stores)

    def resolve_sku(self, platform: str, store_id: str, channel_sku: str) -> str | None:
        return self._cached(
            ("sku", platform, store_id, channel_sku),
            lambda: self._catalog.resolve_sku(platform, store_id, channel_sku),
        )

    def channel_skus(self, platform: str, store_id: str, sku: str) -> list[str]:
        return list(
            self._cached(
                ("channel_skus", platform, store_id, sku),
                lambda: self._catalog.channel_skus(platform, store_id, sku),
            )
        )

    def get_api_key(self, key_hash: str) -> Mapping[str, Any] | None:
        return self._cached(("apikey", key_hash), lambda: self._catalog.get_api_key(key_hash))
