"""Shopify: stock through the GraphQL Admin API's `inventorySetQuantities` (absolute
`available` at the store's location, by inventory item id), listings by
`productVariants(query: "sku:...")`.

Sources (docs/channel-apis.md; fixtures tests/fixtures/inventory/shopify/): shopify.dev
mutations/inventorySetQuantities (absolute; up to 2026-01 `ignoreCompareQuantity`, from
2026-04 `changeFromQuantity: null` per quantity and `@idempotent(key:)`), input arrays of at
most 250 (api/usage/limits), THROTTLED with `extensions.cost.throttleStatus` (rate-limits),
user error codes (InventorySetQuantitiesUserErrorCode). Auth: `X-Shopify-Access-Token`.
SKUs are not unique in Shopify: two variants with the SKU are a conflict, never guessed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.channels.stock_api import (
    ApiAnswer,
    ApiCall,
    ListingGone,
    PlatformStock,
    Results,
    StockLine,
    Throttled,
    compact,
    every,
    http_failure,
)
from chalicelib.domain.errors import (
    ChannelCredentialsRejected,
    ChannelRejected,
    ChannelUnavailable,
)

PLATFORM = "shopify"
BATCH = 250
SET_QUERY = (
    "mutation InventorySet($input: InventorySetQuantitiesInput!) { inventorySetQuantities("
    "input: $input) { inventoryAdjustmentGroup { createdAt reason changes { name delta "
    "quantityAfterChange } } userErrors { code field message } } }"
)
SET_QUERY_IDEMPOTENT = (
    "mutation InventorySet($input: InventorySetQuantitiesInput!, $key: String!) { "
    "inventorySetQuantities(input: $input) @idempotent(key: $key) { inventoryAdjustmentGroup "
    "{ createdAt } userErrors { code field message } } }"
)
LOOKUP_QUERY = (
    "query VariantsBySku($q: String!) { productVariants(first: 10, query: $q) { nodes { id sku "
    "product { id } inventoryItem { id tracked inventoryLevels(first: 10) { nodes { location "
    "{ id name } } } } } } }"
)
LISTING_GONE = frozenset(
    {"INVALID_INVENTORY_ITEM", "INVALID_LOCATION", "ITEM_NOT_STOCKED_AT_LOCATION"}
)


def uses_change_from(version: str) -> bool:
    """From API version 2026-04 on, `changeFromQuantity` and `@idempotent` are required."""
    return version >= "2026-04"


class ShopifyStock(PlatformStock):
    platform = PLATFORM
    api = "inventorySetQuantities"
    lookup_api = "productVariants"
    secret_fields = ("shop_domain", "admin_api_token")
    optional_fields = ("location_id",)
    rate_per_second = 2.0  # a mutation costs ~10 of the 100 points/s a Standard store restores

    def __init__(self, version: str = "2025-07") -> None:
        self.version = version

    def base_url(self, credentials: Mapping[str, str], configured: str) -> str:
        return configured or f"https://{credentials['shop_domain']}"

    def _call(self, credentials: Mapping[str, str], body: Mapping[str, Any], api: str) -> ApiCall:
        return ApiCall(
            "POST",
            f"/admin/api/{self.version}/graphql.json",
            api,
            compact(body),
            {
                "X-Shopify-Access-Token": credentials["admin_api_token"],
                "Content-Type": "application/json",
            },
        )

    def set_request(self, lines: Sequence[StockLine], reference: str) -> dict[str, Any]:
        """The GraphQL document and variables of one `inventorySetQuantities`."""
        change_from = uses_change_from(self.version)
        quantities = []
        for line in lines:
            quantity: dict[str, Any] = {
                "inventoryItemId": line.ids["inventory_item_id"],
                "locationId": line.ids["location_id"],
                "quantity": line.quantity,
            }
            if change_from:
                quantity["changeFromQuantity"] = None
            quantities.append(quantity)
        payload: dict[str, Any] = {
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": f"gid://orderhub/StockPush/{reference}",
        }
        if change_from:
            payload["quantities"] = quantities
            key = "orderhub-push-" + "-".join(f"{x.sku}:{x.quantity}" for x in lines)
            return {
                "query": SET_QUERY_IDEMPOTENT,
                "variables": {"key": key[:255], "input": payload},
            }
        payload["ignoreCompareQuantity"] = True
        payload["quantities"] = quantities
        return {"query": SET_QUERY, "variables": {"input": payload}}

    def stock_calls(
        self, credentials: Mapping[str, str], lines: Sequence[StockLine], now: datetime
    ) -> list[tuple[ApiCall, list[StockLine]]]:
        reference = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        calls = []
        for start in range(0, len(lines), BATCH):
            chunk = list(lines[start : start + BATCH])
            calls.append(
                (self._call(credentials, self.set_request(chunk, reference), self.api), chunk)
            )
        return calls

    def _checked(self, answer: ApiAnswer) -> Mapping[str, Any]:
        failure = http_failure(answer, "Shopify", self.fix())
        if failure is not None:
            raise failure
        payload = answer.json()
        if not isinstance(payload, Mapping):
            raise ChannelUnavailable("Shopify answered something that is not JSON")
        errors = payload.get("errors")
        if errors:
            first = errors[0] if isinstance(errors, list) and errors else {}
            code = (
                str((first.get("extensions") or {}).get("code") or "")
                if isinstance(first, Mapping)
                else ""
            )
            if code == "THROTTLED":
                raise Throttled("Shopify throttled OrderHub (THROTTLED)", throttle_wait(payload))
            if code == "ACCESS_DENIED":
                raise ChannelCredentialsRejected(
                    "Shopify denied access (ACCESS_DENIED). Fix: the app needs the "
                    "write_inventory and read_products scopes; re-install it on the store"
                )
            raise ChannelUnavailable(
                f"Shopify answered errors: {json.dumps(errors, default=str)[:200]}"
            )
        return payload

    def read_stock(self, answer: ApiAnswer, lines: Sequence[StockLine]) -> Results:
        payload = self._checked(answer)
        result = (payload.get("data") or {}).get("inventorySetQuantities")
        if not isinstance(result, Mapping):
            raise ChannelUnavailable("Shopify's answer lacks data.inventorySetQuantities")
        user_errors = result.get("userErrors") or []
        if not user_errors:
            return every(lines, None)
        results: Results = every(
            lines,
            ChannelUnavailable("Shopify refused the batch for another line's error; retried"),
        )
        for error in user_errors:
            code = str(error.get("code") or "")
            field = [str(f) for f in error.get("field") or []]
            index = (
                int(field[2])
                if len(field) > 2 and field[1] == "quantities" and field[2].isdigit()
                else None
            )
            message = f"Shopify refused ({code}: {error.get('message') or ''})"
            targets = [lines[index]] if index is not None and index < len(lines) else list(lines)
            for line in targets:
                if code in LISTING_GONE:
                    results[line.sku] = ListingGone(
                        f"{message} for inventory item {line.ids.get('inventory_item_id')}. Fix: "
                        "the variant was deleted or is not stocked at the location; OrderHub "
                        "looks the SKU up again (set location_id in the store's secret to pick "
                        "the location)"
                    )
                else:
                    results[line.sku] = ChannelRejected(message)
        return results

    def throttled(self, answer: ApiAnswer) -> bool:
        return answer.status == 200 and _is_throttled(answer.json())

    def pause_after(self, answer: ApiAnswer) -> float:
        payload = answer.json()
        return throttle_wait(payload) if _is_throttled(payload) else 0.0

    def lookup_call(self, credentials: Mapping[str, str], sku: str, now: datetime) -> ApiCall:
        body = {"query": LOOKUP_QUERY, "variables": {"q": f'sku:"{sku}"'}}
        return self._call(credentials, body, self.lookup_api)

    def read_lookup(
        self, answer: ApiAnswer, sku: str, credentials: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str]:
        payload = self._checked(answer)
        nodes = (((payload.get("data") or {}).get("productVariants") or {}).get("nodes")) or []
        matches = [n for n in nodes if isinstance(n, Mapping) and n.get("sku") == sku]
        if not matches:
            return None, "no variant carries this SKU"
        if len(matches) > 1:
            return None, f"{len(matches)} variants carry this SKU (a conflict: make it unique)"
        variant = matches[0]
        item = variant.get("inventoryItem") or {}
        levels = ((item.get("inventoryLevels") or {}).get("nodes")) or []
        locations = [str((lv.get("location") or {}).get("id") or "") for lv in levels]
        wanted = credentials.get("location_id", "")
        if wanted:
            if not wanted.startswith("gid://"):
                wanted = f"gid://shopify/Location/{wanted}"
            if wanted not in locations:
                return None, f"the variant is not stocked at location {wanted}"
            location = wanted
        elif locations:
            location = locations[0]
        else:
            return None, "the variant is stocked at no location"
        return {
            "variant_id": str(variant.get("id") or ""),
            "inventory_item_id": str(item.get("id") or ""),
            "location_id": location,
        }, "productVariants sku search"


def _is_throttled(payload: Any) -> bool:
    errors = payload.get("errors") if isinstance(payload, Mapping) else None
    return isinstance(errors, list) and any(
        isinstance(e, Mapping) and (e.get("extensions") or {}).get("code") == "THROTTLED"
        for e in errors
    )


def throttle_wait(payload: Mapping[str, Any]) -> float:
    """Seconds until the cost bucket holds what the request needs."""
    cost = (payload.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        needed = Decimal(str(cost.get("requestedQueryCost") or 10))
        have = Decimal(str(status.get("currentlyAvailable") or 0))
        rate = Decimal(str(status.get("restoreRate") or 50))
        return float(max(Decimal("0.1"), (needed - have) / rate))
    except ArithmeticError:
        return 1.0
