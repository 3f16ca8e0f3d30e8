"""Taobao/Tmall (TOP), Pinduoduo and JD: stock and listing calls through their routers,
signed as the pollers' calls are (channels/taobao.py `sign_top`, pinduoduo.py `sign_pdd`,
jd.py `sign_jd`: sorted `k+v`, secret-wrapped MD5, upper hex), form-encoded POSTs.

- Taobao `taobao.item.quantity.update` (`num_iid`, `sku_id` or `outer_id`, `quantity`,
  `type=1` = absolute), `taobao.skus.quantity.update` for up to 20 SKUs of one item
  (`skuid_quantities="id:q;id:q"`); listing by `taobao.skus.custom.get` (`outer_id` = our SKU),
  else `taobao.items.custom.get` for an item without SKUs. Source: bububa/opentaobao
  model/tbitem/*.go, core/client.go; fixtures tests/fixtures/inventory/taobao/.
- Pinduoduo `pdd.goods.quantity.update` (`goods_id`, `sku_id` or `outer_id`, `quantity`,
  `update_type=1` = absolute), one SKU a call; listing by `pdd.goods.list.get outer_id=`.
  Source: niltor/open-pdd-net-sdk Models/Request/Goods/*.cs; fixtures .../pinduoduo/.
- JD `jingdong.stock.write.updateSkuStock {skuId, stockNum}`, one SKU a call; listing by
  `jingdong.sku.read.searchSkuList {outId}`. Source: JD's Python SDK (copy in ogto/scm_backend);
  its absolute semantics and answer names are UNCONFIRMED (docs/channel-apis.md).
Errors come in `error_response` and are classified by each platform's module.
"""

from __future__ import annotations

import json
import re
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from chalicelib.channels import jd, pinduoduo, taobao
from chalicelib.channels.base import load_json
from chalicelib.channels.pull import PullCredentials
from chalicelib.channels.stock_api import (
    ApiAnswer,
    ApiCall,
    ListingGone,
    PlatformStock,
    Results,
    Send,
    StockLine,
    every,
    from_polling,
    http_failure,
)
from chalicelib.domain.errors import ChannelRejected, ChannelUnavailable, OrderHubError

FORM = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
TAOBAO_BATCH = 20  # taobao.skus.quantity.update: SKUs of one item per call
GONE_WORDS = (
    "not exist",
    "不存在",
    "not found",
    "invalid-item",
    "item-not-exist",
    "商品不存在",
    "sku不存在",
)


def form_call(params: Mapping[str, str], api: str) -> ApiCall:
    return ApiCall("POST", "", api, urlencode(params).encode("utf-8"), FORM)


def pull_creds(credentials: Mapping[str, str]) -> PullCredentials:
    return PullCredentials(
        credentials["app_key"],
        credentials["app_secret"],
        credentials["session"],
        sign_method=credentials.get("sign_method") or "md5",
    )


def _payload(answer: ApiAnswer, name: str, fix: str) -> Any:
    failure = http_failure(answer, name, fix)
    if failure is not None and answer.status not in (400, 403, 404):
        raise failure
    try:
        payload = load_json(answer.body)
    except Exception:
        raise (
            failure or ChannelUnavailable(f"{name} answered something that is not JSON")
        ) from None
    if failure is not None and not (isinstance(payload, Mapping) and "error_response" in payload):
        raise failure
    return payload


def _gone(exc: OrderHubError) -> bool:
    return isinstance(exc, ChannelRejected) and any(w in exc.message.lower() for w in GONE_WORDS)


class _RouterStock(PlatformStock):
    name = ""
    optional_fields = ("sign_method",)

    def credentials(self, secret: Mapping[str, Any], store_id: str) -> dict[str, str]:
        aliases = {"client_id": "app_key", "client_secret": "app_secret", "access_token": "session"}
        merged = dict(secret)
        for alias, canonical in aliases.items():
            if (
                not str(merged.get(canonical) or "").strip()
                and str(merged.get(alias) or "").strip()
            ):
                merged[canonical] = merged[alias]
        return super().credentials(merged, store_id)

    @abstractmethod
    def _error(self, raw: Any) -> OrderHubError:
        """The platform's error answer as a domain error (each router reads its own codes)."""

    def throttled(self, answer: ApiAnswer) -> bool:
        """The router's call quota refused the call (an `error_response` inside a 200):
        Taobao code 7 `App Call Limited` (sub_code `accesscontrol.limited-by-*`), or a
        refusal whose words say the limit (频繁, 限流, limit)."""
        payload = answer.json()
        error = payload.get("error_response") if isinstance(payload, Mapping) else None
        if not isinstance(error, Mapping):
            return False
        words = " ".join(str(v) for v in error.values())
        return str(error.get("code")) == "7" or any(
            w in words.lower() for w in ("limited-by", "limit exceeded", "频繁", "限流")
        )

    def pause_after(self, answer: ApiAnswer) -> float:
        """How long the quota's ban lasts ("This ban will last for N more seconds"), else 1 s."""
        if not self.throttled(answer):
            return 0.0
        found = re.search(r"(\d+)\s*(?:more\s+)?seconds?", answer.said(500))
        return float(found.group(1)) if found else 1.0

    def _answer(self, answer: ApiAnswer, key: str) -> Mapping[str, Any]:
        payload = _payload(answer, self.name, self.fix())
        if isinstance(payload, Mapping) and "error_response" in payload:
            raise from_polling(self._error(payload["error_response"]), self.fix())
        found = payload.get(key) if isinstance(payload, Mapping) else None
        if not isinstance(found, Mapping):
            raise ChannelUnavailable(f"{self.name}'s answer lacks {key}")
        return found

    def _per_line(self, answer: ApiAnswer, key: str, lines: Sequence[StockLine]) -> Results:
        try:
            self._answer(answer, key)
        except ChannelRejected as exc:
            if _gone(exc):
                return every(
                    lines, ListingGone(f"{exc.message}. Fix: OrderHub looks the SKU up again")
                )
            raise
        return every(lines, None)


class TaobaoStock(_RouterStock):
    platform, name = taobao.PLATFORM, "Taobao"
    api = "taobao.item.quantity.update"
    lookup_api = "taobao.skus.custom.get"
    secret_fields = ("app_key", "app_secret", "session")
    rate_per_second = 10.0

    def _error(self, raw: Any) -> OrderHubError:
        return taobao.top_error(raw)

    def item_params(self, line: StockLine) -> dict[str, str]:
        params = {"num_iid": line.ids["num_iid"], "quantity": str(line.quantity), "type": "1"}
        if line.ids.get("sku_id"):
            params["sku_id"] = line.ids["sku_id"]
        elif line.ids.get("has_skus") == "1":
            params["outer_id"] = line.sku
        return params

    def stock_calls(
        self, credentials: Mapping[str, str], lines: Sequence[StockLine], now: datetime
    ) -> list[tuple[ApiCall, list[StockLine]]]:
        creds = pull_creds(credentials)
        groups: dict[str, list[StockLine]] = {}
        for line in lines:
            key = line.ids["num_iid"] if line.ids.get("sku_id") else f"single:{line.sku}"
            groups.setdefault(key, []).append(line)
        calls = []
        for key, group in groups.items():
            for start in range(0, len(group), TAOBAO_BATCH):
                chunk = group[start : start + TAOBAO_BATCH]
                if len(chunk) == 1:
                    params = taobao.top_request(self.api, self.item_params(chunk[0]), creds, now)
                    calls.append((form_call(params, self.api), chunk))
                    continue
                business = {
                    "num_iid": key,
                    "skuid_quantities": ";".join(f"{x.ids['sku_id']}:{x.quantity}" for x in chunk),
                    "type": "1",
                }
                params = taobao.top_request("taobao.skus.quantity.update", business, creds, now)
                calls.append((form_call(params, "taobao.skus.quantity.update"), chunk))
        return calls

    def read_stock(self, answer: ApiAnswer, lines: Sequence[StockLine]) -> Results:
        key = (
            "item_quantity_update_response" if len(lines) == 1 else "skus_quantity_update_response"
        )
        return self._per_line(answer, key, lines)

    def lookup_call(self, credentials: Mapping[str, str], sku: str, now: datetime) -> ApiCall:
        business = {"outer_id": sku, "fields": "sku_id,num_iid,outer_id,quantity"}
        return form_call(
            taobao.top_request(self.lookup_api, business, pull_creds(credentials), now),
            self.lookup_api,
        )

    def read_lookup(
        self, answer: ApiAnswer, sku: str, credentials: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str]:
        found = self._answer(answer, "skus_custom_get_response")
        skus = [
            s
            for s in taobao.listed(found.get("skus"), "sku")
            if str(s.get("outer_id") or sku) == sku
        ]
        if len(skus) > 1:
            return None, f"{len(skus)} SKUs carry this merchant code (a conflict)"
        if skus:
            return {
                "num_iid": str(skus[0].get("num_iid")),
                "sku_id": str(skus[0].get("sku_id")),
                "has_skus": "1",
            }, "taobao.skus.custom.get"
        return None, "no SKU has this merchant code (outer_id)"

    def lookup(
        self, send: Send, credentials: Mapping[str, str], sku: str, now: datetime
    ) -> tuple[dict[str, str] | None, str]:
        ids, note = self.read_lookup(
            send(self.lookup_call(credentials, sku, now)), sku, credentials
        )
        if ids is not None or "conflict" in note:
            return ids, note
        business = {"outer_id": sku, "fields": "num_iid,outer_id,num"}
        params = taobao.top_request(
            "taobao.items.custom.get", business, pull_creds(credentials), now
        )
        found = self._answer(
            send(form_call(params, "taobao.items.custom.get")), "items_custom_get_response"
        )
        items = taobao.listed(found.get("items"), "item")
        if len(items) == 1:
            return {"num_iid": str(items[0].get("num_iid"))}, "taobao.items.custom.get"
        if len(items) > 1:
            return None, f"{len(items)} items carry this merchant code (a conflict)"
        return None, "no item or SKU has this merchant code (outer_id)"


class PinduoduoStock(_RouterStock):
    platform, name = pinduoduo.PLATFORM, "Pinduoduo"
    api = "pdd.goods.quantity.update"
    lookup_api = "pdd.goods.list.get"
    secret_fields = ("app_key", "app_secret", "session")
    rate_per_second = 10.0

    def _error(self, raw: Any) -> OrderHubError:
        return pinduoduo.pdd_error(raw)

    def fix(self) -> str:
        return (
            "check client_id, client_secret and access_token in the store's secret "
            "(re-authorize the app if the token expired)"
        )

    def quantity_params(self, line: StockLine) -> dict[str, str]:
        params = {
            "goods_id": line.ids["goods_id"],
            "quantity": str(line.quantity),
            "update_type": "1",
        }
        if line.ids.get("sku_id"):
            params["sku_id"] = line.ids["sku_id"]
        else:
            params["outer_id"] = line.sku
        return params

    def stock_calls(
        self, credentials: Mapping[str, str], lines: Sequence[StockLine], now: datetime
    ) -> list[tuple[ApiCall, list[StockLine]]]:
        creds = pull_creds(credentials)
        return [
            (
                form_call(
                    pinduoduo.pdd_request(self.api, self.quantity_params(line), creds, now),
                    self.api,
                ),
                [line],
            )
            for line in lines
        ]

    def read_stock(self, answer: ApiAnswer, lines: Sequence[StockLine]) -> Results:
        results = self._per_line(answer, "goods_quantity_update_response", lines)
        if all(v is None for v in results.values()):
            found = self._answer(answer, "goods_quantity_update_response")
            if found.get("is_success") is False:
                return every(lines, ChannelUnavailable("Pinduoduo answered is_success false"))
        return results

    def lookup_call(self, credentials: Mapping[str, str], sku: str, now: datetime) -> ApiCall:
        business = {"outer_id": sku, "page": "1", "page_size": "100"}
        return form_call(
            pinduoduo.pdd_request(self.lookup_api, business, pull_creds(credentials), now),
            self.lookup_api,
        )

    def read_lookup(
        self, answer: ApiAnswer, sku: str, credentials: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str]:
        found = self._answer(answer, "goods_list_get_response")
        matches = []
        for goods in found.get("goods_list") or []:
            for item in goods.get("sku_list") or []:
                if str(item.get("outer_id") or "") == sku:
                    matches.append(
                        {"goods_id": str(goods.get("goods_id")), "sku_id": str(item.get("sku_id"))}
                    )
        if not matches:
            return None, "no SKU has this merchant code (outer_id)"
        if len(matches) > 1:
            return None, f"{len(matches)} SKUs carry this merchant code (a conflict)"
        return matches[0], "pdd.goods.list.get outer_id"


class JdStock(_RouterStock):
    platform, name = jd.PLATFORM, "JD"
    api = "jingdong.stock.write.updateSkuStock"
    lookup_api = "jingdong.sku.read.searchSkuList"
    secret_fields = ("app_key", "app_secret", "session")
    rate_per_second = 10.0

    def _error(self, raw: Any) -> OrderHubError:
        return jd.jd_error(raw)

    def fix(self) -> str:
        return (
            "check app_key, app_secret and access_token in the store's secret "
            "(re-authorize the app if the token expired)"
        )

    def _call(
        self,
        credentials: Mapping[str, str],
        method: str,
        business: Mapping[str, Any],
        now: datetime,
    ) -> ApiCall:
        params = {
            "method": method,
            "app_key": credentials["app_key"],
            "access_token": credentials["session"],
            "timestamp": jd.jos_time(now),
            "v": "2.0",
            "360buy_param_json": json.dumps(
                dict(business), separators=(",", ":"), ensure_ascii=False, sort_keys=True
            ),
        }
        params["sign"] = jd.sign_jd(params, credentials["app_secret"])
        return form_call(params, method)

    def stock_calls(
        self, credentials: Mapping[str, str], lines: Sequence[StockLine], now: datetime
    ) -> list[tuple[ApiCall, list[StockLine]]]:
        return [
            (
                self._call(
                    credentials,
                    self.api,
                    {"skuId": int(line.ids["sku_id"]), "stockNum": line.quantity},
                    now,
                ),
                [line],
            )
            for line in lines
        ]

    def read_stock(self, answer: ApiAnswer, lines: Sequence[StockLine]) -> Results:
        return self._per_line(answer, "jingdong_stock_write_updateSkuStock_responce", lines)

    def lookup_call(self, credentials: Mapping[str, str], sku: str, now: datetime) -> ApiCall:
        business = {"outId": sku, "pageNo": 1, "page_size": 20, "field": "skuId,wareId,outerId"}
        return self._call(credentials, self.lookup_api, business, now)

    def read_lookup(
        self, answer: ApiAnswer, sku: str, credentials: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, str]:
        found = self._answer(answer, "jingdong_sku_read_searchSkuList_responce")
        page = found.get("page") or {}
        rows = [r for r in page.get("data") or [] if str(r.get("outerId") or "") == sku]
        if not rows:
            return None, "no SKU has this merchant code (outerId)"
        if len(rows) > 1:
            return None, f"{len(rows)} SKUs carry this merchant code (a conflict)"
        return {
            "sku_id": str(rows[0].get("skuId")),
            "ware_id": str(rows[0].get("wareId")),
        }, "searchSkuList outId"
