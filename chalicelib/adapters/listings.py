"""The listing map in DynamoDB (`orderhub-listings`, domain/listings.py's `ListingMap`).

One item per store and SKU: hash `channel` = `platform#store`, range `sku`; `ids` (a map of
the platform's ids, empty when unmapped), `mapped` ("1"/"0"), `checked_at`, `note`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.listings import Listing


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


class DynamoListingMap:
    def __init__(self, client: Any, table: str) -> None:
        self._ddb = client
        self._table = table

    def get(self, platform: str, store_id: str, sku: str) -> Listing | None:
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
