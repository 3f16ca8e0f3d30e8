"""The listing map in DynamoDB (`orderhub-listings`, domain/listings.py's `ListingMap`).

One item per store and SKU: hash `channel` = `platform#store`, range `sku`; `ids` (a map of
the platform's ids, empty when unmapped), `mapped` ("1"/"0"), `checked_at`, `note`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from chalicelib.domain.listings import Listing

log = logging.getLogger("orderhub.listings")


def _channel(platform: str, store_id: str) -> str:
    return f"{platform}#{store_id}"


def _listing(item: dict[str, Any]) -> Listing:
    platform, _, store_id = item["channel"]["S"].partition("#")
    ids = {k: v["S"] for k, v in (item.get("ids", {}).get("M") or {}).items()}
    checked = item.get("checked_at", {}).get("S")
    return Listing(
        platform,
        store_id,
        item["sku"]["S"],
        ids,
        datetime.fromisoformat(checked) if checked else None,
        item.get("note", {}).get("S", ""),
    )


ListingKey = tuple[str, str, str]  # platform, store, SKU
BATCH_GET_KEYS = 100  # BatchGetItem's limit per request
BATCH_GET_ROUNDS = 8  # unprocessed keys asked again before reading them one by one


class DynamoListingMap:
    """The map; inside `preloaded(keys)` the listings of a push run come from one
    BatchGetItem instead of a GetItem each (per thread: the pollers share the map)."""

    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table
        self._run = threading.local()  # the preloaded listings of this thread's run

    @contextmanager
    def preloaded(self, keys: Iterable[ListingKey]) -> Iterator[None]:
        """Read `keys` at once (consistent, as `get`); `get` answers them from memory and
        `put` keeps the memory current until the block ends. Keys not preloaded, or left
        unprocessed by DynamoDB, are read by `get` as usual."""
        outer = getattr(self._run, "memo", None)
        # inside an outer preload (`preloaded_from`): only what it lacks, into its memory
        memo: dict[ListingKey, Listing | None] = {} if outer is None else outer
        wanted = [key for key in dict.fromkeys(keys) if key not in memo]
        for start in range(0, len(wanted), BATCH_GET_KEYS):
            try:
                memo.update(self._batch_read(wanted[start : start + BATCH_GET_KEYS]))
            except Exception:  # a failed preload only costs the reads one by one
                log.warning("listing preload failed; reading one by one", exc_info=True)
        self._run.memo = memo
        try:
            yield
        finally:
            self._run.memo = outer

    @property
    def table(self) -> str:
        return self._table

    def item_keys(self, keys: Iterable[ListingKey]) -> list[dict[str, Any]]:
        """`keys` as this table's BatchGetItem keys (for a read that spans tables)."""
        return [{"channel": {"S": _channel(p, s)}, "sku": {"S": sku}} for p, s, sku in keys]

    @contextmanager
    def preloaded_from(
        self, keys: Iterable[ListingKey], items: Iterable[dict[str, Any]]
    ) -> Iterator[None]:
        """As `preloaded`, from `items` another BatchGetItem read for `keys` (consistently:
        a key without an item has no listing); a `preloaded` inside reads only the rest."""
        memo: dict[ListingKey, Listing | None] = dict.fromkeys(keys)
        for item in items:
            listing = _listing(item)
            memo[(listing.platform, listing.store_id, listing.sku)] = listing
        outer = getattr(self._run, "memo", None)
        self._run.memo = memo
        try:
            yield
        finally:
            self._run.memo = outer

    def _batch_read(self, keys: list[ListingKey]) -> dict[ListingKey, Listing | None]:
        found: dict[ListingKey, Listing | None] = dict.fromkeys(keys)
        request: dict[str, Any] = {
            self._table: {
                "Keys": [
                    {"channel": {"S": _channel(p, s)}, "sku": {"S": sku}} for p, s, sku in keys
                ],
                "ConsistentRead": True,
            }
        }
        for _ in range(BATCH_GET_ROUNDS):
            answer = self._ddb.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self._table, []):
                listing = _listing(item)
                found[(listing.platform, listing.store_id, listing.sku)] = listing
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return found
        for key in request[self._table]["Keys"]:  # throttled: `get` reads these itself
            platform, _, store_id = key["channel"]["S"].partition("#")
            found.pop((platform, store_id, key["sku"]["S"]), None)
        return found

    def get(self, platform: str, store_id: str, sku: str) -> Listing | None:
        memo = getattr(self._run, "memo", None)
        if memo is not None and (platform, store_id, sku) in memo:
            return memo[(platform, store_id, sku)]
        got = self._ddb.get_item(
            TableName=self._table,
            Key={"channel": {"S": _channel(platform, store_id)}, "sku": {"S": sku}},
            ConsistentRead=True,
        ).get("Item")
        return _listing(got) if got else None

    def put(self, listing: Listing) -> None:
        item: dict[str, Any] = {
            "channel": {"S": _channel(listing.platform, listing.store_id)},
            "sku": {"S": listing.sku},
            "ids": {"M": {k: {"S": str(v)} for k, v in listing.ids.items()}},
            "mapped": {"S": "1" if listing.mapped else "0"},
            "note": {"S": listing.note},
        }
        if listing.checked_at is not None:
            item["checked_at"] = {"S": listing.checked_at.isoformat()}
        self._ddb.put_item(TableName=self._table, Item=item)
        memo = getattr(self._run, "memo", None)
        if memo is not None:
            memo[(listing.platform, listing.store_id, listing.sku)] = listing

    def for_store(self, platform: str, store_id: str) -> list[Listing]:
        found: list[Listing] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "channel = :c",
            "ExpressionAttributeValues": {":c": {"S": _channel(platform, store_id)}},
        }
        while True:
            page = self._ddb.query(**kwargs)
            found.extend(_listing(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
