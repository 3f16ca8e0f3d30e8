"""The platform endpoints the channel health probes call, for the stub platform
(local/stub_platform.py serves them; the probes reach them through the same base-URL settings
as in AWS: ORDERHUB_SHOPIFY_API_URL, ORDERHUB_WOOCOMMERCE_API_URL, ORDERHUB_BIGCOMMERCE_API_URL,
ORDERHUB_TIKTOK_API_URL, ORDERHUB_DOUYIN_API_URL).

Served, with the seeded stores' credentials (local/seed.json) checked as the platforms check
them, in their answer shapes:
- `GET /admin/api/{version}/webhooks.json` (Shopify Admin REST, `X-Shopify-Access-Token`):
  the store's webhook subscriptions, header `X-Shopify-Shop-Api-Call-Limit`;
- `GET /wp-json/wc/v3/webhooks` (WooCommerce REST v3, HTTP Basic consumer key/secret);
- `GET /stores/{hash}/v3/hooks` (BigCommerce, `X-Auth-Token`), headers
  `X-Rate-Limit-Requests-Left` / `-Quota` / `-Time-Window-Ms` / `-Time-Reset-Ms`;
- `GET /authorization/202309/shops` (TikTok Shop Get Authorized Shops, signed, token header);
- `POST /order/searchList` (Douyin order.searchList, signed; always an empty page).
Each seeded store has one subscription to `https://orderhub.local.invalid/webhooks/{platform}/
{store}` (Shopify, WooCommerce; BigCommerce: its three order scopes).

For developers and tests (`HealthControl`, shared with the pull routers' stub):
- `POST /_stub/health {"platform": "shopify", "status": 503 | null, "delay_ms": N,
  "webhook": "present" | "missing" | "inactive"}`: that platform's probe endpoints answer with
  `status` (null: normally), after `delay_ms`, and list our subscription as told; for the
  pull platforms (taobao, pinduoduo, jd) every router call is affected, pollers' too, as a
  real outage would be. `{"platform": "shopify"}` alone, or `{"reset": true}` for all, heals.
- `GET /_stub/health`: the modes in force and the probe calls served.

Standard library only.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from chalicelib.channels.douyin_api_signature import SIGN_METHODS, douyin_api_sign
from chalicelib.channels.tiktok_api_signature import tiktok_api_sign

SEED_PATH = Path(__file__).resolve().parent / "seed.json"
OUR_HOST = "https://orderhub.local.invalid"
PLATFORMS = (
    "shopify",
    "woocommerce",
    "bigcommerce",
    "tiktok",
    "douyin",
    "taobao",
    "pinduoduo",
    "jd",
)
WEBHOOK_STATES = ("present", "missing", "inactive")
TIKTOK_SHOPS_PATH = "/authorization/202309/shops"
DOUYIN_SEARCH_PATH = "/order/searchList"
DOUYIN_SEARCH_METHOD = "order.searchList"
MAX_SKEW = timedelta(minutes=10)
BEIJING = ZoneInfo("Asia/Shanghai")
BIGCOMMERCE_SCOPES = ("store/order/created", "store/order/updated", "store/order/statusUpdated")


@dataclass(frozen=True)
class Mode:
    status: int | None = None
    delay_ms: int = 0
    webhook: str = "present"


class HealthControl:
    """Per platform: answer with a status, after a delay, listing our webhook or not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modes: dict[str, Mode] = {}

    def set(self, platform: str, mode: Mode) -> None:
        with self._lock:
            self._modes[platform] = mode

    def reset(self) -> None:
        with self._lock:
            self._modes.clear()

    def mode(self, platform: str) -> Mode:
        with self._lock:
            return self._modes.get(platform, Mode())

    def apply(self, platform: str) -> int | None:
        """Wait the platform's delay; the status to fail this call with, if any."""
        mode = self.mode(platform)
        if mode.delay_ms > 0:
            time.sleep(mode.delay_ms / 1000)
        return mode.status

    def post(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        """`POST /_stub/health` (module docstring)."""
        if body.get("reset"):
            self.reset()
            return 200, {"status": "reset"}
        platform = body.get("platform")
        if platform not in PLATFORMS:
            return 400, {
                "error": "invalid_payload",
                "message": f"platform must be one of {PLATFORMS}",
            }
        status, delay, webhook = body.get("status"), body.get("delay_ms") or 0, body.get("webhook")
        if status is not None and (not isinstance(status, int) or not 100 <= status <= 599):
            return 400, {
                "error": "invalid_payload",
                "message": "status must be an HTTP status or null",
            }
        if not isinstance(delay, int) or not 0 <= delay <= 60_000:
            return 400, {"error": "invalid_payload", "message": "delay_ms must be 0..60000"}
        if webhook is not None and webhook not in WEBHOOK_STATES:
            return 400, {
                "error": "invalid_payload",
                "message": f"webhook must be one of {WEBHOOK_STATES}",
            }
        mode = Mode(status, delay, webhook or "present")
        self.set(platform, mode)
        return 200, {"platform": platform, **mode.__dict__}

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {p: m.__dict__ for p, m in self._modes.items()}


def _address(platform: str, store: str) -> str:
    return f"{OUR_HOST}/webhooks/{platform}/{store}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


class HealthStub:
    """The probe endpoints, for the seeded stores."""

    def __init__(self, stores: Sequence[Mapping[str, Any]], control: HealthControl | None = None):
        self.control = control or HealthControl()
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self._shopify: dict[str, str] = {}  # admin token -> store
        self._woo: dict[tuple[str, str], str] = {}  # (key, secret) -> store
        self._bigcommerce: dict[str, tuple[str, str]] = {}  # hash -> (token, store)
        self._tiktok_apps: dict[str, str] = {}  # app_key -> app_secret
        self._tiktok_tokens: dict[str, list[dict[str, str]]] = {}  # token -> shops
        self._douyin_apps: dict[str, str] = {}
        self._douyin_tokens: dict[str, str] = {}  # token -> app_key
        for store in stores:
            self._add(str(store.get("platform")), str(store.get("store_id")), store)

    @classmethod
    def from_seed(cls, path: Path = SEED_PATH, control: HealthControl | None = None) -> HealthStub:
        stores = json.loads(path.read_text(encoding="utf-8")).get("stores", [])
        return cls(stores, control)

    def _add(self, platform: str, store_id: str, store: Mapping[str, Any]) -> None:
        c = {k: str(v) for k, v in dict(store.get("credentials") or {}).items() if v is not None}
        if platform == "shopify" and c.get("admin_api_token"):
            self._shopify[c["admin_api_token"]] = store_id
        elif platform == "woocommerce" and c.get("consumer_key"):
            self._woo[(c["consumer_key"], c.get("consumer_secret", ""))] = store_id
        elif platform == "bigcommerce" and c.get("store_hash"):
            self._bigcommerce[c["store_hash"]] = (c.get("access_token", ""), store_id)
        elif platform == "tiktok" and c.get("app_key"):
            self._tiktok_apps[c["app_key"]] = c.get("app_secret", "")
            shop = {
                "cipher": c.get("shop_cipher", ""),
                "id": c.get("shop_id", ""),
                "name": str(store.get("name") or store_id),
                "region": "GB",
                "seller_type": "CROSS_BORDER",
                "code": "GBLCDEV01",
                "app_key": c["app_key"],
            }
            self._tiktok_tokens.setdefault(c.get("access_token", ""), []).append(shop)
        elif platform == "douyin" and c.get("app_key"):
            self._douyin_apps[c["app_key"]] = c.get("app_secret", "")
            self._douyin_tokens[c.get("access_token", "")] = c["app_key"]

    # ---- HTTP ----------------------------------------------------------------------------------

    def serve(self, handler: BaseHTTPRequestHandler, method: str) -> bool:
        """Answer the request if it is a probe endpoint or the control; False otherwise (the
        request, body unread, is left to the stub platform's own routes)."""
        url = urlsplit(handler.path)
        path, query = url.path, url.query
        platform = self._platform(method, path)
        if platform is None and path != "/_stub/health":
            return False
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if method == "POST" and length else b""
        if path == "/_stub/health":
            if method == "GET":
                self._write(
                    handler, 200, {}, {"modes": self.control.snapshot(), "calls": self.calls}
                )
                return True
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            if not isinstance(body, dict):
                self._write(
                    handler, 400, {}, {"error": "invalid_payload", "message": "JSON object"}
                )
                return True
            status, answer = self.control.post(body)
            self._write(handler, status, {}, answer)
            return True
        assert platform is not None
        with self._lock:
            self.calls.append(f"{method} {path}")
        failing = self.control.apply(platform)
        if failing is not None:
            self._write(handler, failing, {}, {"error": "stub_failure", "message": "told to fail"})
            return True
        headers = {k.lower(): v for k, v in handler.headers.items()}
        self._write(handler, *self.answer(platform, path, query, headers, raw))
        return True

    @staticmethod
    def _platform(method: str, path: str) -> str | None:
        parts = path.strip("/").split("/")
        if method == "GET":
            if len(parts) == 4 and parts[:2] == ["admin", "api"] and parts[3] == "webhooks.json":
                return "shopify"
            if path.rstrip("/") == "/wp-json/wc/v3/webhooks":
                return "woocommerce"
            if len(parts) == 4 and parts[0] == "stores" and parts[2:] == ["v3", "hooks"]:
                return "bigcommerce"
            if path == TIKTOK_SHOPS_PATH:
                return "tiktok"
        if method == "POST" and path == DOUYIN_SEARCH_PATH:
            return "douyin"
        return None

    @staticmethod
    def _write(
        handler: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], body: Any
    ) -> None:
        data = json.dumps(body).encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def answer(
        self,
        platform: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        raw: bytes,
        now: datetime | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """(status, response headers, JSON body) for one probe call."""
        now = now or datetime.now(UTC)
        webhook = self.control.mode(platform).webhook
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if platform == "shopify":
            return self._shopify_hooks(headers, webhook, now)
        if platform == "woocommerce":
            return self._woo_hooks(headers, webhook, now)
        if platform == "bigcommerce":
            store_hash = unquote(path.strip("/").split("/")[1])
            return self._bigcommerce_hooks(store_hash, headers, webhook, now)
        if platform == "tiktok":
            return self._tiktok_shops(params, headers, now)
        return self._douyin_search(params, raw, now)

    def _shopify_hooks(
        self, headers: Mapping[str, str], webhook: str, now: datetime
    ) -> tuple[int, dict[str, str], Any]:
        store = self._shopify.get(headers.get("x-shopify-access-token", ""))
        if store is None:
            message = "[API] Invalid API key or access token (unrecognized login or wrong password)"
            return 401, {}, {"errors": message}
        hooks = [
            {
                "id": 4_759_306_000 + i,
                "address": _address("shopify", store),
                "topic": topic,
                "created_at": _stamp(now),
                "updated_at": _stamp(now),
                "format": "json",
                "fields": [],
                "metafield_namespaces": [],
                "api_version": "2025-07",
            }
            for i, topic in enumerate(("orders/create", "orders/updated", "orders/cancelled"))
        ]
        listed = hooks if webhook == "present" else []  # Shopify deletes, never disables
        return 200, {"X-Shopify-Shop-Api-Call-Limit": "1/40"}, {"webhooks": listed}

    def _woo_hooks(
        self, headers: Mapping[str, str], webhook: str, now: datetime
    ) -> tuple[int, dict[str, str], Any]:
        auth = headers.get("authorization", "")
        try:
            key, _, secret = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
        except ValueError:
            key, secret = "", ""
        store = self._woo.get((key, secret))
        if store is None:
            return (
                401,
                {},
                {
                    "code": "woocommerce_rest_cannot_view",
                    "message": "Sorry, you cannot list resources.",
                    "data": {"status": 401},
                },
            )
        if webhook == "missing":
            return 200, {}, []
        hook = {
            "id": 142,
            "name": "Order updated",
            "status": "active" if webhook == "present" else "disabled",
            "topic": "order.updated",
            "resource": "order",
            "event": "updated",
            "hooks": ["woocommerce_update_order"],
            "delivery_url": _address("woocommerce", store),
            "date_created_gmt": now.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        return 200, {}, [hook]

    def _bigcommerce_hooks(
        self, store_hash: str, headers: Mapping[str, str], webhook: str, now: datetime
    ) -> tuple[int, dict[str, str], Any]:
        token, store = self._bigcommerce.get(store_hash, ("", ""))
        if not token or not hmac.compare_digest(headers.get("x-auth-token", ""), token):
            return 401, {}, {"status": 401, "title": "Unauthorized", "type": "about:blank"}
        hooks = [
            {
                "id": 22_000 + i,
                "client_id": "devonlyclientid",
                "store_hash": store_hash,
                "scope": scope,
                "destination": _address("bigcommerce", store),
                "headers": None,
                "is_active": webhook == "present",
                "created_at": int(now.timestamp()),
                "updated_at": int(now.timestamp()),
            }
            for i, scope in enumerate(BIGCOMMERCE_SCOPES)
        ]
        listed = [] if webhook == "missing" else hooks
        rate = {
            "X-Rate-Limit-Requests-Left": "149",
            "X-Rate-Limit-Requests-Quota": "150",
            "X-Rate-Limit-Time-Window-Ms": "30000",
            "X-Rate-Limit-Time-Reset-Ms": "15000",
        }
        page = {"total": len(listed), "count": len(listed), "per_page": 50, "current_page": 1}
        return 200, rate, {"data": listed, "meta": {"pagination": page}}

    def _tiktok_shops(
        self, params: Mapping[str, str], headers: Mapping[str, str], now: datetime
    ) -> tuple[int, dict[str, str], Any]:
        def refused(code: int, message: str) -> tuple[int, dict[str, str], Any]:
            body = {"code": code, "message": message, "request_id": uuid.uuid4().hex, "data": None}
            return 200, {}, body

        secret = self._tiktok_apps.get(params.get("app_key", ""))
        if secret is None:
            return refused(106002, "app_key is not a known app")
        stamp = params.get("timestamp", "")
        if not stamp.isdigit() or abs(now - datetime.fromtimestamp(int(stamp), UTC)) > MAX_SKEW:
            return refused(36009003, "timestamp missing or more than 10 minutes off")
        unsigned = {k: v for k, v in params.items() if k != "sign"}
        expected = tiktok_api_sign(secret, TIKTOK_SHOPS_PATH, unsigned)
        if not hmac.compare_digest(expected, params.get("sign", "").lower()):
            return refused(106001, "Invalid sign: the signature does not match")
        shops = [
            {k: v for k, v in shop.items() if k != "app_key"}
            for shop in self._tiktok_tokens.get(headers.get("x-tts-access-token", ""), [])
            if shop["app_key"] == params["app_key"]
        ]
        if not shops:
            return refused(105001, "access token is invalid or expired")
        return (
            200,
            {},
            {
                "code": 0,
                "message": "Success",
                "request_id": uuid.uuid4().hex,
                "data": {"shops": shops},
            },
        )

    def _douyin_search(
        self, params: Mapping[str, str], raw: bytes, now: datetime
    ) -> tuple[int, dict[str, str], Any]:
        def envelope(code: int, msg: str, data: Any = None) -> tuple[int, dict[str, str], Any]:
            body = {
                "code": code,
                "msg": msg,
                "sub_code": "" if code == 10000 else "isv.stub",
                "sub_msg": "" if code == 10000 else msg,
                "log_id": uuid.uuid4().hex,
                "data": data if data is not None else {},
            }
            return 200, {}, body

        app_key = params.get("app_key", "")
        secret = self._douyin_apps.get(app_key)
        if secret is None:
            return envelope(30001, "app_key 不存在 (app_key is not a known app)")
        if params.get("method") != DOUYIN_SEARCH_METHOD or params.get("v") != "2":
            return envelope(40002, f"method must be {DOUYIN_SEARCH_METHOD}, v 2")
        try:
            sent = datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return envelope(40002, "timestamp must read yyyy-MM-dd HH:mm:ss")
        if abs(now - sent.replace(tzinfo=BEIJING)) > MAX_SKEW:
            return envelope(40002, "timestamp 与服务器时间相差超过10分钟")
        sign_method = params.get("sign_method") or "md5"
        if sign_method not in SIGN_METHODS:
            return envelope(40002, f"sign_method must be one of {SIGN_METHODS}")
        expected = douyin_api_sign(
            app_key,
            secret,
            DOUYIN_SEARCH_METHOD,
            raw.decode("utf-8", "replace"),
            params["timestamp"],
            "2",
            sign_method,
        )
        if not hmac.compare_digest(expected, params.get("sign", "").lower()):
            return envelope(30003, "签名错误 (the signature does not match)")
        if self._douyin_tokens.get(params.get("access_token", "")) != app_key:
            return envelope(30002, "access_token 无效或已过期")
        day_list = getattr(self, "douyin_day", None)  # the stores' day lists (stub_inventory.py)
        if day_list is not None:
            return envelope(10000, "success", day_list(app_key, json.loads(raw or b"{}")))
        return envelope(10000, "success", {"shop_order_list": [], "page": 0, "size": 1, "total": 0})
