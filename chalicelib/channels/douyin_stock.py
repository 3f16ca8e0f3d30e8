"""Douyin Shop 抖店: stock through `sku.syncStock` (`/sku/syncStock`, `incremental: false`:
absolute), one SKU a call; listings by crawling `product.listV2` and each product's
`sku.list`, matching the SKU's `code` (sku外部编码) to our SKU (the API has no search by
code). Signed like every Douyin API call (channels/douyin_api_signature.py, hmac-sha256
over app_secret + sorted params + app_secret), `param_json` as the body.

Sources: westng/doudian-sdk src/Utils/SignUtil.php, src/Core/Client/DouDianOpClient.php;
zsmhub/doudian-sdk (official Go SDK mirror) api/sku_syncStock/request (product_id, sku_id,
stock_num, incremental default false), api/sku_list; envelope code 10000 = success
(src/Core/Token/AccessToken.php). `product.listV2` parameter and field names and the error
codes are UNCONFIRMED (docs/channel-apis.md); refusals are classified by their wording.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from chalicelib.channels.douyin_api import beijing_timestamp
from chalicelib.channels.douyin_api_signature import API_VERSION, douyin_api_sign, param_json
from chalicelib.channels.stock_api import (
    ApiAnswer,
    ApiCall,
    ListingGone,
    PlatformStock,
    Results,
    Send,
    StockLine,
    Throttled,
    every,
    http_failure,
    int_or_text,
)
from chalicelib.domain.errors import (
    ChannelCredentialsRejected,
    ChannelUnavailable,
    OrderHubError,
)

PLATFORM = "douyin"
SUCCESS = "10000"
SIGN_METHOD = "hmac-sha256"
MAX_PRODUCT_PAGES = 50  # 5,000 products per lookup: a runaway catalog must not loop
CRAWL_FRESH = timedelta(minutes=1)  # one crawl serves a refresh's lookups of every SKU


def douyin_call(
    credentials: Mapping[str, str],
    method: str,
    params: Mapping[str, Any],
    now: datetime,
    timestamp: str | None = None,
) -> ApiCall:
    """A signed Douyin call: `method` a.b is POSTed to /a/b with `param_json` as the body."""
    body = param_json(params)
    query = {
        "app_key": credentials["app_key"],
        "method": method,
        "v": API_VERSION,
        "timestamp": timestamp or beijing_timestamp(now),
        "access_token": credentials["access_token"],
        "sign_method": SIGN_METHOD,
    }
    query["sign"] = douyin_api_sign(
        credentials["app_key"],
        credentials["app_secret"],
        method,
        body,
        query["timestamp"],
        API_VERSION,
        SIGN_METHOD,
    )
    path = "/" + method.replace(".", "/")
    return ApiCall(
        "POST",
        f"{path}?{urlencode(query)}",
        method,
        body.encode("utf-8"),
        {"Content-Type": "application/json"},
    )


def refusal(payload: Any, fix: str) -> OrderHubError | None:
    if not isinstance(payload, Mapping) or "code" not in payload:
        return ChannelUnavailable("Douyin answered something that is not its envelope")
    code = str(payload.get("code")).strip()
    if code == SUCCESS:
        return None
    sub = f"{payload.get('sub_code') or ''}: {payload.get('sub_msg') or ''}"
    said = f"code {code}: {payload.get('msg') or ''} ({sub})"
    words = said.lower()
    if "token" in words or "sign" in words or "app_key" in words or "授权" in said:
        return ChannelCredentialsRejected(
            f"Douyin refused OrderHub's credentials ({said}). Fix: {fix}"
        )
    if "limit" in words or "频繁" in said or "限流" in said:
        return Throttled(f"Douyin rate-limited OrderHub ({said})", 1.0)
    if "不存在" in said or "not exist" in words or "not found" in words:
        return ListingGone(
            f"Douyin has no such SKU any more ({said}). Fix: OrderHub looks it up again"
        )
    return ChannelUnavailable(f"Douyin refused the call ({said})")


class DouyinStock(PlatformStock):
    platform = PLATFORM
    api = "sku.syncStock"
    lookup_api = "sku.list"
    secret_fields = ("app_key", "app_secret", "access_token")
    rate_per_second = 5.0

    def __init__(self) -> None:
        self._crawls: dict[str, tuple[datetime, dict[str, list[dict[str, str]]]]] = {}

    def sync_params(self, line: StockLine) -> dict[str, Any]:
        return {
            "incremental": False,
            "product_id": int_or_text(line.ids["product_id"]),
            "sku_id": int_or_text(line.ids["sku_id"]),
            "stock_num": line.quantity,
        }

    def stock_calls(
        self, credentials: Mapping[str, str], lines: Sequence[StockLine], now: datetime
    ) -> list[tuple[ApiCall, list[StockLine]]]:
        return [
            (douyin_call(credentials, self.api, self.sync_params(line), now), [line])
            for line in lines
        ]

    def _payload(self, answer: ApiAnswer) -> Mapping[str, Any]:
        failure = http_failure(answer, "Douyin", self.fix())
        if failure is not None:
            raise failure
        payload = answer.json()
        problem = refusal(payload, self.fix())
        if isinstance(problem, ListingGone):
            raise problem
        if problem is not None:
            raise problem
        return payload

    def read_stock(self, answer: ApiAnswer, lines: Sequence[StockLine]) -> Results:
        try:
            self._payload(answer)
        except ListingGone as gone:
            return every(lines, gone)
        return every(lines, None)

    def lookup_call(self, credentials: Mapping[str, str], sku: str, now: datetime) -> ApiCall:
        return douyin_call(credentials, "product.listV2", {"page": 1, "size": 100}, now)

    def read_lookup(
        self, answer: ApiAnswer, sku: str, credentials: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str]:  # pragma: no cover - `lookup` crawls instead
        raise TypeError("Douyin's lookup crawls the product list page by page (lookup)")

    def lookup(
        self, send: Send, credentials: Mapping[str, str], sku: str, now: datetime
    ) -> tuple[dict[str, str] | None, str]:
        """One crawl of the store's catalog serves every SKU looked up within a minute (a
        refresh looks up each SKU in turn)."""
        key = credentials["app_key"] + "/" + credentials["access_token"][-8:]
        cached = self._crawls.get(key)
        if cached is None or now - cached[0] > CRAWL_FRESH:
            cached = (now, self._crawl(send, credentials, now))
            self._crawls[key] = cached
        found = cached[1].get(sku, [])
        if not found:
            return None, "no SKU's code (sku外部编码) is this SKU"
        if len(found) > 1:
            return None, f"{len(found)} SKUs carry this code (a conflict)"
        return found[0], "product.listV2 + sku.list code"

    def _crawl(
        self, send: Send, credentials: Mapping[str, str], now: datetime
    ) -> dict[str, list[dict[str, str]]]:
        """Every SKU code of the store: `product.listV2` pages, each product's `sku.list`."""
        codes: dict[str, list[dict[str, str]]] = {}
        for page in range(1, MAX_PRODUCT_PAGES + 1):
            listed = self._payload(
                send(douyin_call(credentials, "product.listV2", {"page": page, "size": 100}, now))
            )
            data = listed.get("data") or {}
            products = data.get("data") or []
            for product in products:
                product_id = str(product.get("product_id") or "")
                skus = self._payload(
                    send(
                        douyin_call(
                            credentials, "sku.list", {"product_id": int_or_text(product_id)}, now
                        )
                    )
                )
                for item in skus.get("data") or []:
                    code = str(item.get("code") or "")
                    if code:
                        codes.setdefault(code, []).append(
                            {
                                "product_id": str(item.get("product_id") or product_id),
                                "sku_id": str(item.get("id")),
                            }
                        )
            total = int(str(data.get("total") or 0) or 0)
            if len(products) < 100 or page * 100 >= total:
                break
        return codes
