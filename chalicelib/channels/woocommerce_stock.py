"""WooCommerce: stock through REST API v3 batch updates of `stock_quantity` (absolute, with
`manage_stock: true`): `POST /wp-json/wc/v3/products/batch` for simple products,
`/products/{parent}/variations/batch` for variations, up to 100 objects a call; listings by
`GET /wp-json/wc/v3/products?sku=` (variations included, `parent_id` set).

Sources: woocommerce/woocommerce-rest-api-docs (wp-api-v3 _products.md, _product-variations.md,
_authentication.md, _introduction.md "Errors"); fixtures tests/fixtures/inventory/woocommerce/.
Auth: HTTP Basic with the consumer key and secret (HTTPS). A batch answers per object: an
object with `error` was not updated.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.channels.stock_api import (
    ApiAnswer,
    ApiCall,
    ListingGone,
    PlatformStock,
    Results,
    StockLine,
    compact,
    http_failure,
)
from chalicelib.domain.errors import ChannelRejected, ChannelUnavailable, OrderHubError

PLATFORM = "woocommerce"
BATCH = 100
PREFIX = "/wp-json/wc/v3"


def basic_auth(credentials: Mapping[str, str]) -> str:
    pair = f"{credentials['consumer_key']}:{credentials['consumer_secret']}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


class WooCommerceStock(PlatformStock):
    platform = PLATFORM
    api = "products/batch"
    lookup_api = "products?sku"
    secret_fields = ("site_url", "consumer_key", "consumer_secret")
    rate_per_second = 5.0  # no documented limit: the seller's host decides

    def base_url(self, credentials: Mapping[str, str], configured: str) -> str:
        return (configured or credentials["site_url"]).rstrip("/")

    def _headers(self, credentials: Mapping[str, str]) -> dict[str, str]:
        return {"Authorization": basic_auth(credentials), "Content-Type": "application/json"}

    def stock_calls(
        self, credentials: Mapping[str, str], lines: Sequence[StockLine], now: datetime
    ) -> list[tuple[ApiCall, list[StockLine]]]:
        groups: dict[str, list[StockLine]] = {}
        for line in lines:
            groups.setdefault(line.ids.get("parent_id") or "0", []).append(line)
        calls = []
        for parent, group in groups.items():
            path = (
                f"{PREFIX}/products/batch"
                if parent == "0"
                else (f"{PREFIX}/products/{quote(parent, safe='')}/variations/batch")
            )
            api = "products/batch" if parent == "0" else "variations/batch"
            for start in range(0, len(group), BATCH):
                chunk = group[start : start + BATCH]
                body = {"update": [batch_object(line) for line in chunk]}
                calls.append(
                    (ApiCall("POST", path, api, compact(body), self._headers(credentials)), chunk)
                )
        return calls

    def read_stock(self, answer: ApiAnswer, lines: Sequence[StockLine]) -> Results:
        failure = http_failure(answer, "WooCommerce", self.fix())
        if failure is not None:
            if answer.status == 404:
                raise ChannelRejected(
                    f"WooCommerce has no such route ({answer.said()}). Fix: site_url must be "
                    "the shop's address, with pretty permalinks and the REST API enabled"
                )
            raise failure
        payload = answer.json()
        updated = payload.get("update") if isinstance(payload, Mapping) else None
        if not isinstance(updated, list):
            raise ChannelUnavailable("WooCommerce's batch answer lacks `update`")
        by_id: dict[str, Any] = {
            str(obj.get("id")): obj for obj in updated if isinstance(obj, Mapping)
        }
        results: Results = {}
        for line in lines:
            obj = by_id.get(line.ids["product_id"])
            results[line.sku] = _object_outcome(obj, line)
        return results

    def lookup_call(self, credentials: Mapping[str, str], sku: str, now: datetime) -> ApiCall:
        query = urlencode({"sku": sku, "per_page": "10"})
        return ApiCall(
            "GET", f"{PREFIX}/products?{query}", self.lookup_api, b"", self._headers(credentials)
        )

    def read_lookup(
        self, answer: ApiAnswer, sku: str, credentials: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str]:
        failure = http_failure(answer, "WooCommerce", self.fix())
        if failure is not None:
            raise failure
        payload = answer.json()
        if not isinstance(payload, list):
            raise ChannelUnavailable("WooCommerce's product search is not a JSON array")
        matches = [p for p in payload if isinstance(p, Mapping) and p.get("sku") == sku]
        if not matches:
            return None, "no product or variation carries this SKU"
        if len(matches) > 1:
            return None, f"{len(matches)} products carry this SKU (a conflict: make it unique)"
        found = matches[0]
        return {
            "product_id": str(found.get("id")),
            "parent_id": str(found.get("parent_id") or 0),
        }, "products?sku search"


def batch_object(line: StockLine) -> dict[str, Any]:
    return {
        "id": int(line.ids["product_id"]),
        "manage_stock": True,
        "stock_quantity": line.quantity,
    }


def _object_outcome(obj: Mapping[str, Any] | None, line: StockLine) -> OrderHubError | None:
    if obj is None:
        return ChannelUnavailable("WooCommerce's batch answer does not mention this product")
    error = obj.get("error")
    if not error:
        if obj.get("stock_quantity") not in (None, line.quantity):
            return ChannelUnavailable(
                f"WooCommerce kept stock_quantity {obj.get('stock_quantity')} for {line.sku}"
            )
        return None
    code = str(error.get("code") or "") if isinstance(error, Mapping) else str(error)
    message = str(error.get("message") or "") if isinstance(error, Mapping) else ""
    status = (error.get("data") or {}).get("status") if isinstance(error, Mapping) else None
    if "invalid_id" in code or status == 404:
        return ListingGone(
            f"WooCommerce has no product {line.ids['product_id']} any more ({code}: {message}). "
            "Fix: OrderHub looks the SKU up again; give the product the SKU if it is missing"
        )
    if status is not None and int(status) >= 500:
        return ChannelUnavailable(f"WooCommerce failed to update ({code}: {message})")
    return ChannelRejected(f"WooCommerce refused the update ({code}: {message})")
