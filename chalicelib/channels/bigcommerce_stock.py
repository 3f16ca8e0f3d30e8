"""BigCommerce: stock through `PUT /v3/inventory/adjustments/absolute` (absolute, up to
2,000 items, each by `variant_id` or `sku` at a `location_id`), listings by
`GET /v3/catalog/variants?sku=`.

Sources: bigcommerce/docs reference/inventory.v3.yml (absolute adjustments, 2,000 items,
422 problem+json), reference/catalog/product-variants_catalog.v3.yml, docs/api-docs/
getting-started/api-rate-limits.mdx (`X-Rate-Limit-Requests-Left`,
`X-Rate-Limit-Time-Reset-Ms`, 429); fixtures tests/fixtures/inventory/bigcommerce/. Auth:
`X-Auth-Token`. A 422 does not say which item: a batch is then sent item by item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.channels.stock_api import (
    ApiAnswer,
    ApiCall,
    BatchRefused,
    ListingGone,
    PlatformStock,
    Results,
    StockLine,
    compact,
    every,
    http_failure,
)
from chalicelib.domain.errors import ChannelUnavailable

PLATFORM = "bigcommerce"
BATCH = 2000
DEFAULT_LOCATION = "1"
REASON = "OrderHub stock sync"


class BigCommerceStock(PlatformStock):
    platform = PLATFORM
    api = "inventory/adjustments/absolute"
    lookup_api = "catalog/variants?sku"
    secret_fields = ("store_hash", "access_token")
    optional_fields = ("location_id",)
    rate_per_second = 4.0  # Standard plans: 150 requests per 30 s, shared by every app

    def _headers(self, credentials: Mapping[str, str]) -> dict[str, str]:
        return {
            "X-Auth-Token": credentials["access_token"],
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def _path(self, credentials: Mapping[str, str], rest: str) -> str:
        return f"/stores/{quote(credentials['store_hash'], safe='')}{rest}"

    def adjustment(self, lines: Sequence[StockLine], location: str) -> dict[str, Any]:
        items = []
        for line in lines:
            item: dict[str, Any] = {"location_id": int(line.ids.get("location_id") or location)}
            if line.ids.get("variant_id"):
                item["variant_id"] = int(line.ids["variant_id"])
            else:
                item["sku"] = line.sku
            item["quantity"] = line.quantity
            items.append(item)
        return {"reason": REASON, "items": items}

    def stock_calls(
        self, credentials: Mapping[str, str], lines: Sequence[StockLine], now: datetime
    ) -> list[tuple[ApiCall, list[StockLine]]]:
        location = credentials.get("location_id") or DEFAULT_LOCATION
        path = self._path(credentials, "/v3/inventory/adjustments/absolute")
        calls = []
        for start in range(0, len(lines), BATCH):
            chunk = list(lines[start : start + BATCH])
            body = compact(self.adjustment(chunk, location))
            calls.append((ApiCall("PUT", path, self.api, body, self._headers(credentials)), chunk))
        return calls

    def read_stock(self, answer: ApiAnswer, lines: Sequence[StockLine]) -> Results:
        if answer.status == 422:
            payload = answer.json()
            title = str(payload.get("title") if isinstance(payload, Mapping) else answer.said())
            if len(lines) > 1:
                raise BatchRefused(f"BigCommerce refused the batch (422: {title})")
            return every(
                lines,
                ListingGone(
                    f"BigCommerce refused the adjustment (422: {title}). Fix: the variant or its "
                    "tracking mode changed (stock tracked by product or by variant); OrderHub "
                    "looks the SKU up again"
                ),
            )
        failure = http_failure(answer, "BigCommerce", self.fix())
        if failure is not None:
            raise failure
        payload = answer.json()
        if not isinstance(payload, Mapping) or "transaction_id" not in payload:
            raise ChannelUnavailable("BigCommerce's answer lacks transaction_id")
        return every(lines, None)

    def lookup_call(self, credentials: Mapping[str, str], sku: str, now: datetime) -> ApiCall:
        path = self._path(credentials, "/v3/catalog/variants?" + urlencode({"sku": sku}))
        return ApiCall("GET", path, self.lookup_api, b"", self._headers(credentials))

    def read_lookup(
        self, answer: ApiAnswer, sku: str, credentials: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str]:
        failure = http_failure(answer, "BigCommerce", self.fix())
        if failure is not None:
            raise failure
        payload = answer.json()
        data = payload.get("data") if isinstance(payload, Mapping) else None
        if not isinstance(data, list):
            raise ChannelUnavailable("BigCommerce's variant search lacks data")
        matches = [v for v in data if isinstance(v, Mapping) and v.get("sku") == sku]
        if not matches:
            return None, "no variant carries this SKU"
        if len(matches) > 1:
            return None, f"{len(matches)} variants carry this SKU (a conflict)"
        found = matches[0]
        return {
            "variant_id": str(found.get("id")),
            "product_id": str(found.get("product_id")),
            "location_id": credentials.get("location_id") or DEFAULT_LOCATION,
        }, "catalog/variants sku search"

    def pause_after(self, answer: ApiAnswer) -> float:
        left = answer.headers.get("x-rate-limit-requests-left", "")
        reset = answer.headers.get("x-rate-limit-time-reset-ms", "")
        if left.strip() == "0" and reset.strip().isdigit():
            return int(reset) / 1000
        return 0.0
