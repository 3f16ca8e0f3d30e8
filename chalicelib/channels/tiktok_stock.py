"""TikTok Shop: stock through `POST /product/202309/products/{product_id}/inventory/update`
(the SKUs of one product per call, absolute `quantity` per warehouse), listings by
`POST /product/202312/products/search {"seller_skus": [...]}`. Signed like every TikTok
Shop API call (channels/tiktok_api_signature.py: HMAC-SHA256 over secret + path + sorted
query + body + secret), the access token in `x-tts-access-token`.

Sources: lywzx/tiktok-partner-api products/UpdateInventory.ts, SearchProducts.ts (typed
from the partner docs); EcomPHP/tiktokshop-php src/Client.php (signing), src/Resource.php
(codes starting 105 or 360 are token/authorization errors); fixtures
tests/fixtures/inventory/tiktok_shop/. Envelope `{code, message, data, request_id}`, code 0
= success; `data.errors[]` names the SKUs not updated.
"""

from __future__ import annotations

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
    every,
    http_failure,
)
from chalicelib.channels.tiktok_api_signature import tiktok_api_sign
from chalicelib.domain.errors import (
    ChannelCredentialsRejected,
    ChannelUnavailable,
    OrderHubError,
)

PLATFORM = "tiktok"
SEARCH_PATH = "/product/202312/products/search"
TOKEN_HEADER = "x-tts-access-token"


def update_path(product_id: str) -> str:
    return f"/product/202309/products/{quote(product_id, safe='')}/inventory/update"


def signed_call(
    credentials: Mapping[str, str],
    path: str,
    body: bytes,
    now: datetime,
    api: str,
    extra: Mapping[str, str] | None = None,
) -> ApiCall:
    """A signed POST: query `app_key, timestamp, shop_cipher` (+ extra) and `sign`."""
    query = {
        "app_key": credentials["app_key"],
        "timestamp": str(int(now.timestamp())),
        "shop_cipher": credentials["shop_cipher"],
        **(extra or {}),
    }
    query["sign"] = tiktok_api_sign(credentials["app_secret"], path, query, body)
    headers = {"content-type": "application/json", TOKEN_HEADER: credentials["access_token"]}
    return ApiCall("POST", f"{path}?{urlencode(query)}", api, body, headers)


def envelope_error(payload: Any, fix: str) -> OrderHubError | None:
    """The refusal in TikTok's envelope, or None for code 0."""
    if not isinstance(payload, Mapping) or "code" not in payload:
        return ChannelUnavailable("TikTok Shop answered something that is not its envelope")
    code = str(payload.get("code")).strip()
    if code == "0":
        return None
    said = f"code {code}: {payload.get('message') or ''}"
    words = said.lower()
    if code.startswith(("105", "360")) or "sign" in words or "token" in words:
        return ChannelCredentialsRejected(
            f"TikTok Shop refused OrderHub's authorization ({said}). Fix: {fix}"
        )
    return ChannelUnavailable(f"TikTok Shop refused the call ({said})")


class TikTokStock(PlatformStock):
    platform = PLATFORM
    api = "products/inventory/update"
    lookup_api = "products/search"
    secret_fields = ("app_key", "app_secret", "access_token", "shop_cipher")
    optional_fields = ("warehouse_id",)
    rate_per_second = 5.0  # per-API QPS not published: kept low

    def stock_calls(
        self, credentials: Mapping[str, str], lines: Sequence[StockLine], now: datetime
    ) -> list[tuple[ApiCall, list[StockLine]]]:
        groups: dict[str, list[StockLine]] = {}
        for line in lines:
            groups.setdefault(line.ids["product_id"], []).append(line)
        calls = []
        for product_id, group in groups.items():
            body = compact({"skus": [sku_inventory(line, credentials) for line in group]})
            calls.append(
                (signed_call(credentials, update_path(product_id), body, now, self.api), group)
            )
        return calls

    def read_stock(self, answer: ApiAnswer, lines: Sequence[StockLine]) -> Results:
        failure = http_failure(answer, "TikTok Shop", self.fix())
        if failure is not None:
            raise failure
        payload = answer.json()
        refusal = envelope_error(payload, self.fix())
        if refusal is not None:
            raise refusal
        results = every(lines, None)
        data = payload.get("data") if isinstance(payload, Mapping) else None
        errors = data.get("errors") if isinstance(data, Mapping) else None
        by_sku_id = {line.ids["sku_id"]: line for line in lines}
        for error in errors or []:
            detail = error.get("detail") or {} if isinstance(error, Mapping) else {}
            line = by_sku_id.get(str(detail.get("sku_id") or ""))
            message = f"TikTok Shop did not update ({error.get('code')}: {error.get('message')})"
            gone = ListingGone(
                f"{message}. Fix: only live SKUs take stock; OrderHub looks the SKU up again"
            )
            for target in [line] if line is not None else lines:
                results[target.sku] = gone
        return results

    def lookup_call(self, credentials: Mapping[str, str], sku: str, now: datetime) -> ApiCall:
        body = compact({"seller_skus": [sku]})
        return signed_call(
            credentials, SEARCH_PATH, body, now, self.lookup_api, {"page_size": "100"}
        )

    def read_lookup(
        self, answer: ApiAnswer, sku: str, credentials: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str]:
        failure = http_failure(answer, "TikTok Shop", self.fix())
        if failure is not None:
            raise failure
        payload = answer.json()
        refusal = envelope_error(payload, self.fix())
        if refusal is not None:
            raise refusal
        products = ((payload.get("data") or {}).get("products")) or []
        found = []
        for product in products:
            for item in product.get("skus") or []:
                if item.get("seller_sku") == sku:
                    found.append((product, item))
        if not found:
            return None, "no live product has this seller SKU"
        if len(found) > 1:
            return None, f"{len(found)} SKUs carry this seller SKU (a conflict)"
        product, item = found[0]
        warehouses = [
            str(i.get("warehouse_id")) for i in item.get("inventory") or [] if i.get("warehouse_id")
        ]
        ids = {"product_id": str(product.get("id")), "sku_id": str(item.get("id"))}
        warehouse = credentials.get("warehouse_id") or (warehouses[0] if warehouses else "")
        if warehouse:
            ids["warehouse_id"] = warehouse
        return ids, "products/search seller_skus"


def sku_inventory(line: StockLine, credentials: Mapping[str, str]) -> dict[str, Any]:
    inventory: dict[str, Any] = {"quantity": line.quantity}
    warehouse = line.ids.get("warehouse_id") or credentials.get("warehouse_id")
    if warehouse:
        inventory = {"warehouse_id": warehouse, "quantity": line.quantity}
    return {"id": line.ids["sku_id"], "inventory": [inventory]}
