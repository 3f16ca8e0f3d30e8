"""TikTok Shop's and Douyin's order APIs as OrderHub calls them, for the stub platform
(local/stub_platform.py; the functions get its URL as `ORDERHUB_TIKTOK_API_URL` and
`ORDERHUB_DOUYIN_API_URL`).

Served:
- `GET /order/202309/orders?app_key&ids&shop_cipher&timestamp&sign`, header
  `x-tts-access-token` (TikTok's Get Order Detail): the orders seeded for that shop cipher
  among `ids`, `{"code": 0, "message": "Success", "request_id", "data": {"orders": [...]}}`
  (an id not seeded is simply not listed);
- `POST /order/orderDetail?app_key&method&access_token&timestamp&v&sign_method&sign`, body
  `{"shop_order_id": "..."}` (Douyin's order.orderDetail): `{"code": 10000, "msg":
  "success", ..., "data": {"shop_order_detail": {...}}}` (`data` empty for an order not
  seeded).

Every call is checked as the platforms check it, with the credentials seeded with the
orders: the app key must be known, the timestamp within 10 minutes, the signature right
(chalicelib/channels/tiktok_api_signature.py, douyin_api_signature.py: MD5 or HMAC-SHA256
per `sign_method`), the access token that shop's. A failed check answers HTTP 200 with the
platform's error envelope; its codes are the stub's placeholders (TikTok's and Douyin's own
code tables could not be sourced), its message names the problem.

For developers and tests:
- `POST /_stub/tiktok/orders {"app_key", "app_secret", "access_token", "shop_cipher",
  "order": {"id", ...}}`: seed (or replace) an order as Get Order Detail lists it;
- `POST /_stub/douyin/orders {"app_key", "app_secret", "access_token", "order":
  {"order_id", ...}}`: seed (or replace) a `shop_order_detail`;
- `POST /_stub/{tiktok,douyin}/fail {"status": 503, "count": N}`: answer the next N API
  calls with that HTTP status (count null: until told `{"count": 0}`).

Seeded orders survive `POST /_stub/reset` (which is about stock pushes).
"""

from __future__ import annotations

import hmac
import json
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from chalicelib.channels.douyin_api_signature import SIGN_METHODS, douyin_api_sign
from chalicelib.channels.tiktok_api_signature import tiktok_api_sign

TIKTOK_ORDERS_PATH = "/order/202309/orders"
DOUYIN_DETAIL_PATH = "/order/orderDetail"
DOUYIN_DETAIL_METHOD = "order.orderDetail"
MAX_SKEW = timedelta(minutes=10)
BEIJING = ZoneInfo("Asia/Shanghai")

# placeholder codes (see the module docstring)
TIKTOK_BAD_APP, TIKTOK_BAD_SIGN, TIKTOK_BAD_TOKEN, TIKTOK_BAD_PARAM = (
    106002,
    106001,
    105001,
    36009003,
)
DOUYIN_BAD_APP, DOUYIN_BAD_SIGN, DOUYIN_BAD_TOKEN, DOUYIN_BAD_PARAM = 30001, 30003, 30002, 40002


def _single(query: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


class _FailMode:
    """Answers the next N calls with an HTTP status; remembers the calls served."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._fail_status = 503
        self._fail_left: int | None = 0  # None: fail until told otherwise
        self.requests: list[str] = []

    def fail(self, status: int, count: int | None) -> None:
        with self.lock:
            self._fail_status = status
            self._fail_left = count

    def _failing(self) -> int | None:
        """The status to fail this call with, if any (holding the lock)."""
        if self._fail_left is None or self._fail_left > 0:
            if self._fail_left is not None:
                self._fail_left -= 1
            return self._fail_status
        return None

    def _fail_post(self, body: Mapping[str, Any]) -> tuple[int, Any]:
        count = body.get("count")
        self.fail(int(body.get("status", 503)), None if count is None else int(count))
        return 200, {"status": "failing", "count": count}


def _credentials(body: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str] | None:
    found = {name: _text(body.get(name)) for name in names}
    return found if all(found.values()) else None


class TikTokStub(_FailMode):
    """Seeded TikTok shops (by shop cipher) and their orders."""

    def __init__(self) -> None:
        super().__init__()
        self._app_secrets: dict[str, str] = {}
        self._shops: dict[str, dict[str, str]] = {}  # shop_cipher -> app_key, access_token
        self._orders: dict[tuple[str, str], dict[str, Any]] = {}

    def seed(self, credentials: Mapping[str, str], order: Mapping[str, Any]) -> str:
        order_id = str(order["id"])
        with self.lock:
            self._app_secrets[credentials["app_key"]] = credentials["app_secret"]
            self._shops[credentials["shop_cipher"]] = {
                "app_key": credentials["app_key"],
                "access_token": credentials["access_token"],
            }
            self._orders[(credentials["shop_cipher"], order_id)] = {**order, "id": order_id}
        return order_id

    @staticmethod
    def _refused(code: int, message: str) -> tuple[int, Any]:
        return 200, {"code": code, "message": message, "request_id": uuid.uuid4().hex, "data": None}

    def get(
        self, path: str, query: str, token: str, now: datetime | None = None
    ) -> tuple[int, Any]:
        """The answer (status, JSON) to a GET of TikTok's order API."""
        if path != TIKTOK_ORDERS_PATH:
            return 404, {"code": 40400, "message": f"no such API {path} on the stub's TikTok"}
        params = _single(query)
        now = now or datetime.now(UTC)
        with self.lock:
            self.requests.append(f"{path}?ids={params.get('ids', '')}")
            failing = self._failing()
            if failing is not None:
                return failing, {"code": failing, "message": "told to fail", "data": None}
            secret = self._app_secrets.get(params.get("app_key", ""))
            shop = self._shops.get(params.get("shop_cipher", ""))
            orders = dict(self._orders)
        if secret is None:
            return self._refused(TIKTOK_BAD_APP, "app_key is not a known app")
        stamp = params.get("timestamp", "")
        if not stamp.isdigit() or abs(now - datetime.fromtimestamp(int(stamp), UTC)) > MAX_SKEW:
            return self._refused(TIKTOK_BAD_PARAM, "timestamp missing or more than 10 minutes off")
        expected = tiktok_api_sign(secret, path, {k: v for k, v in params.items() if k != "sign"})
        if not hmac.compare_digest(expected, params.get("sign", "").lower()):
            return self._refused(TIKTOK_BAD_SIGN, "Invalid sign: the signature does not match")
        if shop is None or shop["app_key"] != params["app_key"]:
            return self._refused(TIKTOK_BAD_PARAM, "shop_cipher is not a shop of this app")
        if not token or not hmac.compare_digest(token, shop["access_token"]):
            return self._refused(TIKTOK_BAD_TOKEN, "access token is invalid or expired")
        ids = [i.strip() for i in params.get("ids", "").split(",") if i.strip()]
        listed = [
            orders[(params["shop_cipher"], i)] for i in ids if (params["shop_cipher"], i) in orders
        ]
        return 200, {
            "code": 0,
            "message": "Success",
            "request_id": uuid.uuid4().hex,
            "data": {"orders": listed},
        }

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        """The answer to `POST /_stub/tiktok/...`."""
        if not isinstance(body, dict):
            return 400, {"error": "invalid_payload", "message": "body must be a JSON object"}
        if path == "/_stub/tiktok/fail":
            return self._fail_post(body)
        if path != "/_stub/tiktok/orders":
            return 404, {"error": "not_found", "message": f"no POST {path}"}
        names = ("app_key", "app_secret", "access_token", "shop_cipher")
        credentials = _credentials(body, names)
        if credentials is None:
            message = f"{', '.join(names)} must be non-empty strings"
            return 400, {"error": "invalid_payload", "message": message}
        order = body.get("order")
        if not isinstance(order, dict) or order.get("id") is None:
            return 400, {"error": "invalid_payload", "message": "order must be an object with id"}
        order_id = self.seed(credentials, order)
        return 201, {
            "status": "seeded",
            "shop_cipher": credentials["shop_cipher"],
            "order_id": order_id,
        }


class DouyinStub(_FailMode):
    """Seeded Douyin apps, their access tokens and orders."""

    def __init__(self) -> None:
        super().__init__()
        self._app_secrets: dict[str, str] = {}
        self._tokens: dict[str, str] = {}  # access_token -> app_key
        self._orders: dict[tuple[str, str], dict[str, Any]] = {}  # (token, order id)

    def seed(self, credentials: Mapping[str, str], order: Mapping[str, Any]) -> str:
        order_id = str(order["order_id"])
        with self.lock:
            self._app_secrets[credentials["app_key"]] = credentials["app_secret"]
            self._tokens[credentials["access_token"]] = credentials["app_key"]
            self._orders[(credentials["access_token"], order_id)] = {**order, "order_id": order_id}
        return order_id

    @staticmethod
    def _answer(code: int, msg: str, data: Any = None, sub_code: str = "") -> tuple[int, Any]:
        return 200, {
            "code": code,
            "msg": msg,
            "sub_code": sub_code,
            "sub_msg": "" if code == 10000 else msg,
            "log_id": uuid.uuid4().hex,
            "data": data if data is not None else {},
        }

    def call(
        self, path: str, query: str, raw: bytes, now: datetime | None = None
    ) -> tuple[int, Any]:
        """The answer (status, JSON) to a POST of Douyin's order API."""
        if path != DOUYIN_DETAIL_PATH:
            return 404, {"code": 40400, "msg": f"no such API {path} on the stub's Douyin"}
        params = _single(query)
        now = now or datetime.now(UTC)
        with self.lock:
            self.requests.append(path)
            failing = self._failing()
            if failing is not None:
                return failing, {"code": failing, "msg": "told to fail"}
            secret = self._app_secrets.get(params.get("app_key", ""))
            token_app = self._tokens.get(params.get("access_token", ""))
            orders = dict(self._orders)
        if secret is None:
            return self._answer(DOUYIN_BAD_APP, "app_key 不存在 (app_key is not a known app)")
        if params.get("method") != DOUYIN_DETAIL_METHOD or params.get("v") != "2":
            return self._answer(DOUYIN_BAD_PARAM, f"method must be {DOUYIN_DETAIL_METHOD}, v 2")
        try:
            sent = datetime.strptime(params.get("timestamp", ""), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return self._answer(DOUYIN_BAD_PARAM, "timestamp must read yyyy-MM-dd HH:mm:ss")
        if abs(now - sent.replace(tzinfo=BEIJING)) > MAX_SKEW:
            return self._answer(DOUYIN_BAD_PARAM, "timestamp 与服务器时间相差超过10分钟")
        method = params.get("sign_method") or "md5"
        if method not in SIGN_METHODS:
            return self._answer(DOUYIN_BAD_PARAM, f"sign_method must be one of {SIGN_METHODS}")
        param_json = raw.decode("utf-8", "replace")
        expected = douyin_api_sign(
            params["app_key"],
            secret,
            params["method"],
            param_json,
            params["timestamp"],
            "2",
            method,
        )
        if not hmac.compare_digest(expected, params.get("sign", "").lower()):
            return self._answer(
                DOUYIN_BAD_SIGN,
                "签名错误 (the signature does not match)",
                sub_code="isv.sign-invalid",
            )
        if token_app != params["app_key"]:
            return self._answer(
                DOUYIN_BAD_TOKEN, "access_token 无效或已过期", sub_code="isv.access-token-invalid"
            )
        try:
            business = json.loads(param_json)
        except ValueError:
            return self._answer(DOUYIN_BAD_PARAM, "param_json is not JSON")
        order_id = str(business.get("shop_order_id", "")) if isinstance(business, dict) else ""
        order = orders.get((params["access_token"], order_id))
        return self._answer(10000, "success", {"shop_order_detail": order} if order else {})

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        """The answer to `POST /_stub/douyin/...`."""
        if not isinstance(body, dict):
            return 400, {"error": "invalid_payload", "message": "body must be a JSON object"}
        if path == "/_stub/douyin/fail":
            return self._fail_post(body)
        if path != "/_stub/douyin/orders":
            return 404, {"error": "not_found", "message": f"no POST {path}"}
        names = ("app_key", "app_secret", "access_token")
        credentials = _credentials(body, names)
        if credentials is None:
            message = f"{', '.join(names)} must be non-empty strings"
            return 400, {"error": "invalid_payload", "message": message}
        order = body.get("order")
        if not isinstance(order, dict) or order.get("order_id") is None:
            message = "order must be an object with order_id (a shop_order_detail)"
            return 400, {"error": "invalid_payload", "message": message}
        order_id = self.seed(credentials, order)
        return 201, {"status": "seeded", "order_id": order_id}
