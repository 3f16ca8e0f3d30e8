"""Stub pull platforms for the local stack: the Taobao TOP/TMC, Pinduoduo and JD routers.

OrderHub's pollers (chalicelib/api/pollers.py) call these exactly as they call the real
routers: signed, form-encoded POSTs, answered in each platform's documented JSON shapes
(chalicelib/channels/{taobao,pinduoduo,jd}.py cite the sources). One ThreadingHTTPServer on
loopback serves:

- `POST /taobao/router/rest`: `taobao.tmc.messages.consume` (every message not confirmed
  yet, up to `quantity`: an unconfirmed message is handed out again on the next consume, as
  TMC redelivers until confirmed), `taobao.tmc.messages.confirm` (`s_message_ids`),
  `taobao.trade.fullinfo.get` (`tid`), `taobao.user.seller.get` (the health probe's call);
- `POST /pinduoduo/api/router`: `pdd.order.number.list.increment.get` (orders whose
  `updated_at` lies in [start_updated_at, end_updated_at], at most 30 minutes apart, sorted
  by update time, paged, with `total_count` and `has_next`);
- `POST /jd/routerjson`: `jingdong.pop.order.search` (orders whose `modified`, or with
  `dateType` 1 their `orderStartTime`, lies in [start_date, end_date], `360buy_param_json`,
  paged, with `orderTotal`).

Every call is checked like the real routers check it: the app key (client id) and session
(access token) must be a seeded store's, the timestamp within 10 minutes, and the signature
right; otherwise the platform's `error_response` (the codes Taobao documents; for Pinduoduo
and JD, whose code tables we could not source, placeholder codes with wording that names the
problem).

For developers and tests:
- `POST /_stub/taobao/orders {"trade": {...}, "topic"?, "user_nick"?}`: store the trade
  (its `modified` defaults to now, Beijing time) and publish a TMC message for it; answers
  `{"message_id", "tid"}`;
- `POST /_stub/taobao/redeliver {"message_id"}`: hand a confirmed message out again;
- `POST /_stub/pinduoduo/orders {"order": {...}}`, `POST /_stub/jd/orders {"order": {...}}`:
  add or replace an order (`updated_at` / `modified` default to now, Beijing time);
- `GET /_stub/{platform}/confirmed`: the TMC message ids confirmed, in order (Pinduoduo and
  JD confirm nothing: `[]`);
- `GET /_stub/{platform}/calls`: every API call received (method, outcome), oldest first;
- `POST /_stub/{platform}/fail {"kind": "rate_limit" | "system" | "credentials", "count"}`:
  answer the next `count` API calls with that error;
- `POST /_stub/reset`: forget orders, messages, calls and failure modes.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from chalicelib.channels.jd import sign_jd
from chalicelib.channels.pinduoduo import sign_pdd
from chalicelib.channels.taobao import SIGN_METHODS, sign_top
from local import stub_after_sales
from local.stub_health import HealthControl
from local.stub_server import BackgroundServer, JsonHandler, start_on_port

DEFAULT_PORT = 8011
TAOBAO_PATH = "/taobao/router/rest"
PDD_PATH = "/pinduoduo/api/router"
JD_PATH = "/jd/routerjson"
PLATFORMS = ("taobao", "pinduoduo", "jd")
BEIJING = ZoneInfo("Asia/Shanghai")
MAX_SKEW = timedelta(minutes=10)
FIRST_MESSAGE_ID = 7_206_000_000_000_000_001  # TMC ids are 64-bit: beyond a double's range
SEED_PATH = Path(__file__).resolve().parent / "seed.json"

log = logging.getLogger("orderhub.local.stub_pull")


@dataclass(frozen=True)
class StubCredentials:
    app_key: str
    app_secret: str
    session: str


class _Refused(Exception):
    """Answer the call with this platform error body."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body, ensure_ascii=False))
        self.body = body


def beijing_text(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _beijing(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


# ---- each platform's errors --------------------------------------------------------------------


def _top_error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> _Refused:
    error: dict[str, Any] = {"code": code, "msg": msg, "request_id": uuid.uuid4().hex[:12]}
    if sub_code:
        error.update(sub_code=sub_code, sub_msg=sub_msg)
    return _Refused({"error_response": error})


def _pdd_error(code: int, msg: str, sub_code: str = "") -> _Refused:
    error = {
        "error_code": code,
        "error_msg": msg,
        "sub_code": sub_code,
        "sub_msg": "",
        "request_id": uuid.uuid4().hex[:12],
    }
    return _Refused({"error_response": error})


def _jd_error(code: str, en: str, zh: str) -> _Refused:
    return _Refused({"error_response": {"code": code, "en_desc": en, "zh_desc": zh}})


INJECTED: dict[str, dict[str, Callable[[], _Refused]]] = {
    "taobao": {
        "rate_limit": lambda: _top_error(
            7, "App Call Limited", "accesscontrol.limited-by-app-access-count", "stub"
        ),
        "system": lambda: _top_error(
            15, "Remote service error", "isp.top-remote-connection-timeout", "stub"
        ),
        "credentials": lambda: _top_error(
            27, "Invalid session", "invalid-sessionkey", "session expired (stub)"
        ),
    },
    "pinduoduo": {
        "rate_limit": lambda: _pdd_error(70031, "接口调用频繁 (rate limit exceeded, stub)"),
        "system": lambda: _pdd_error(50000, "系统错误 (system error, stub)"),
        "credentials": lambda: _pdd_error(10019, "access_token已过期 (access_token expired)"),
    },
    "jd": {
        "rate_limit": lambda: _jd_error("1001", "api call limit exceeded (stub)", "调用超限"),
        "system": lambda: _jd_error("66", "system busy (stub)", "系统繁忙"),
        "credentials": lambda: _jd_error("19", "Invalid access_token (stub)", "token无效"),
    },
}


# ---- state -------------------------------------------------------------------------------------


class _State:
    def __init__(self, credentials: Mapping[str, Sequence[StubCredentials]]) -> None:
        self.lock = threading.Lock()
        self.credentials = {p: list(credentials.get(p, ())) for p in PLATFORMS}
        self.reset()

    def reset(self) -> None:
        self.trades: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.confirmed: list[str] = []
        self.next_message_id = FIRST_MESSAGE_ID
        self.pdd_orders: dict[str, dict[str, Any]] = {}
        self.jd_orders: dict[str, dict[str, Any]] = {}
        self.calls: dict[str, list[dict[str, Any]]] = {p: [] for p in PLATFORMS}
        self.failing: dict[str, tuple[str, int]] = {}
        self.after_sales: dict[str, dict[str, dict[str, Any]]] = {}  # stub_after_sales.py

    def find(self, platform: str, app_key: str) -> StubCredentials | None:
        return next((c for c in self.credentials[platform] if c.app_key == app_key), None)

    def injected(self, platform: str) -> _Refused | None:
        kind, left = self.failing.get(platform, ("", 0))
        if left <= 0:
            return None
        self.failing[platform] = (kind, left - 1)
        return INJECTED[platform][kind]()


def _skewed(moment: datetime) -> bool:
    return abs(datetime.now(UTC) - moment) > MAX_SKEW


# ---- the routers -------------------------------------------------------------------------------


def _taobao(state: _State, params: dict[str, str]) -> dict[str, Any]:
    creds = state.find("taobao", params.get("app_key", ""))
    if creds is None:
        raise _top_error(29, "Invalid app Key")
    method = params.get("sign_method", "md5")
    if method not in SIGN_METHODS:
        raise _top_error(25, "Invalid signature", "isv.invalid-sign-method", method)
    if params.get("sign", "") != sign_top(params, creds.app_secret, method):
        raise _top_error(25, "Invalid signature")
    try:
        if _skewed(_beijing(params.get("timestamp", ""))):
            raise _top_error(31, "Invalid timestamp", "", "more than 10 minutes off")
    except ValueError:
        raise _top_error(31, "Invalid timestamp") from None
    if params.get("session") != creds.session:
        raise _top_error(27, "Invalid session", "invalid-sessionkey", "session is not valid")
    injected = state.injected("taobao")
    if injected:
        raise injected
    name = params.get("method", "")
    if name == "taobao.tmc.messages.consume":
        quantity = int(params.get("quantity") or 100)
        if not 10 <= quantity <= 200:
            raise _top_error(41, "Invalid arguments", "isv.invalid-parameter", "quantity 10..200")
        pending = [m for m in state.messages if str(m["id"]) not in state.confirmed]
        answer: dict[str, Any] = {"request_id": uuid.uuid4().hex[:12]}
        if pending:
            answer["messages"] = {"tmc_message": pending[:quantity]}
        return {"tmc_messages_consume_response": answer}
    if name == "taobao.tmc.messages.confirm":
        known = {str(m["id"]) for m in state.messages}
        for message_id in filter(None, params.get("s_message_ids", "").split(",")):
            if message_id in known and message_id not in state.confirmed:
                state.confirmed.append(message_id)
        return {"tmc_messages_confirm_response": {"is_success": True}}
    if name == "taobao.user.seller.get":  # the channel health probe's call
        nick = "orderhub_dev_seller"
        return {"user_seller_get_response": {"user": {"nick": nick, "user_id": 2200000000001}}}
    if name == "taobao.trade.fullinfo.get":
        trade = state.trades.get(params.get("tid", ""))
        if trade is None:
            raise _top_error(15, "Remote service error", "isv.trade-not-exist", "no such trade")
        return {"trade_fullinfo_get_response": {"trade": trade}}
    raise _top_error(22, "Invalid method")


def _page(rows: list[dict[str, Any]], page: int, size: int) -> tuple[list[dict[str, Any]], bool]:
    start = (page - 1) * size
    return rows[start : start + size], start + size < len(rows)


def _pinduoduo(state: _State, params: dict[str, str]) -> dict[str, Any]:
    creds = state.find("pinduoduo", params.get("client_id", ""))
    if creds is None:
        raise _pdd_error(10016, "client_id不存在 (unknown client_id)")
    if params.get("sign", "") != sign_pdd(params, creds.app_secret):
        raise _pdd_error(10012, "签名错误 (sign mismatch)", "sign-error")
    stamp = params.get("timestamp", "")
    if not stamp.isdigit() or _skewed(datetime.fromtimestamp(int(stamp), UTC)):
        raise _pdd_error(10013, "timestamp 已过期 (timestamp more than 10 minutes off)")
    if params.get("access_token") != creds.session:
        raise _pdd_error(10019, "access_token已过期 (access_token expired)")
    injected = state.injected("pinduoduo")
    if injected:
        raise injected
    if params.get("type") == stub_after_sales.PDD_METHOD:  # local/stub_after_sales.py
        return stub_after_sales.pdd_after_sales(state, params)
    if params.get("type") != "pdd.order.number.list.increment.get":
        raise _pdd_error(10001, f"未知的接口 (unknown type {params.get('type')})")
    try:
        start, end = int(params["start_updated_at"]), int(params["end_updated_at"])
        page, size = int(params.get("page") or 1), int(params.get("page_size") or 100)
    except (KeyError, ValueError):
        raise _pdd_error(10000, "参数错误 (start_updated_at / end_updated_at required)") from None
    if not 0 <= end - start <= 1800 or not 1 <= size <= 100 or page < 1:
        raise _pdd_error(10000, "参数错误 (window over 30 minutes, or bad page)")
    rows = sorted(
        (
            o
            for o in state.pdd_orders.values()
            if start <= int(_beijing(o["updated_at"]).timestamp()) <= end
        ),
        key=lambda o: (o["updated_at"], o["order_sn"]),
    )
    listed, has_next = _page(rows, page, size)
    return {
        "order_sn_increment_get_response": {
            "total_count": len(rows),
            "has_next": has_next,
            "order_sn_list": listed,
        }
    }


def _jd(state: _State, params: dict[str, str]) -> dict[str, Any]:
    creds = state.find("jd", params.get("app_key", ""))
    if creds is None:
        raise _jd_error("20", "Invalid app_key", "app_key无效")
    if params.get("sign", "") != sign_jd(params, creds.app_secret):
        raise _jd_error("14", "Invalid signature", "签名无效")
    try:
        if _skewed(_beijing(params.get("timestamp", ""))):
            raise _jd_error("12", "Invalid timestamp (more than 10 minutes off)", "时间戳错误")
    except ValueError:
        raise _jd_error("12", "Invalid timestamp", "时间戳错误") from None
    if params.get("access_token") != creds.session:
        raise _jd_error("19", "Invalid access_token", "token无效")
    injected = state.injected("jd")
    if injected:
        raise injected
    if params.get("method") == stub_after_sales.JD_METHOD:  # local/stub_after_sales.py
        return stub_after_sales.jd_after_sales(state, params)
    if params.get("method") != "jingdong.pop.order.search":
        raise _jd_error("22", "Invalid method", "方法不存在")
    try:
        business = json.loads(params.get("360buy_param_json") or "{}")
        start, end = _beijing(business["start_date"]), _beijing(business["end_date"])
        page, size = int(business.get("page") or 1), int(business.get("page_size") or 100)
    except (KeyError, ValueError, TypeError):
        raise _jd_error("61", "Invalid 360buy_param_json", "业务参数错误") from None
    date_type = str(business.get("dateType", "0")) or "0"
    if date_type not in ("0", "1"):
        raise _jd_error("61", "dateType must be 0 (modified) or 1 (created)", "业务参数错误")
    # dateType 1 (the reconciliation): by `orderStartTime`; an order seeded without one is
    # not listed
    field = "modified" if date_type == "0" else "orderStartTime"
    states = set(str(business.get("order_state") or "").split(","))
    rows = sorted(
        (
            o
            for o in state.jd_orders.values()
            if o.get(field)
            and start <= _beijing(str(o[field])) <= end
            and o.get("orderState") in states
        ),
        key=lambda o: (str(o[field]), str(o["orderId"])),
    )
    listed, _ = _page(rows, page, size)
    result = {
        "apiResult": {
            "success": True,
            "englistErrCode": "",
            "chineseErrCode": "",
            "numberCode": 10100000,
        },
        "orderTotal": len(rows),
        "orderInfoList": listed,
    }
    return {"jingdong_pop_order_search_responce": {"code": "0", "searchorderinfo_result": result}}


ROUTERS: dict[str, tuple[str, Callable[[_State, dict[str, str]], dict[str, Any]]]] = {
    TAOBAO_PATH: ("taobao", _taobao),
    PDD_PATH: ("pinduoduo", _pinduoduo),
    JD_PATH: ("jd", _jd),
}


# ---- seeding -----------------------------------------------------------------------------------


def _seed_taobao(state: _State, body: Mapping[str, Any]) -> dict[str, Any]:
    trade = dict(body.get("trade") or {})
    if trade.get("tid") in (None, ""):
        raise ValueError("trade.tid is required")
    now = datetime.now(UTC)
    trade.setdefault("modified", beijing_text(now))
    trade.setdefault("status", "WAIT_SELLER_SEND_GOODS")
    tid = str(trade["tid"])
    state.trades[tid] = trade
    nick = str(body.get("user_nick") or trade.get("seller_nick") or "orderhub_dev_seller")
    content = {
        "buyer_nick": trade.get("buyer_nick", "dev_buyer"),
        "payment": str(trade.get("payment", "0.00")),
        "oid": trade["tid"],
        "tid": trade["tid"],
        "type": "guarantee_trade",
        "seller_nick": nick,
    }
    message_id = state.next_message_id
    state.next_message_id += 1
    state.messages.append(
        {
            "id": message_id,
            "topic": str(body.get("topic") or "taobao_trade_TradeBuyerPay"),
            "pub_app_key": "12497914",
            "pub_time": beijing_text(now),
            "outgoing_time": beijing_text(now),
            "user_id": 2_200_000_000_001,
            "user_nick": nick,
            "content": json.dumps(content, ensure_ascii=False),
        }
    )
    return {"message_id": str(message_id), "tid": tid}


def _seed_order(rows: dict[str, dict[str, Any]], order: Any, id_field: str, time_field: str) -> Any:
    if not isinstance(order, dict) or order.get(id_field) in (None, ""):
        raise ValueError(f"order.{id_field} is required")
    order = dict(order)
    order.setdefault(time_field, beijing_text(datetime.now(UTC)))
    _beijing(order[time_field])  # must be Beijing wall-clock text
    rows[str(order[id_field])] = order
    return {id_field: str(order[id_field]), time_field: order[time_field]}


# ---- HTTP --------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):  # money the seeder sent as a number stays a number
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


class _Handler(JsonHandler):
    server: _Server
    json_default = staticmethod(_json_default)

    def do_GET(self) -> None:
        parts = urlsplit(self.path).path.strip("/").split("/")
        state = self.server.state
        if len(parts) == 3 and parts[0] == "_stub" and parts[1] in PLATFORMS:
            with state.lock:
                if parts[2] == "confirmed":
                    self._answer(200, list(state.confirmed) if parts[1] == "taobao" else [])
                    return
                if parts[2] == "calls":
                    self._answer(200, list(state.calls[parts[1]]))
                    return
        self._answer(404, {"error": "not_found", "message": f"no GET {self.path}"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        raw = self._raw()
        if path in ROUTERS:
            self._route(path, raw)
            return
        try:
            body = json.loads(raw, parse_float=Decimal) if raw else {}
        except ValueError:
            self._answer(400, {"error": "invalid_payload", "message": "body is not JSON"})
            return
        self._control(path, body if isinstance(body, dict) else {})

    def _route(self, path: str, raw: bytes) -> None:
        platform, router = ROUTERS[path]
        failing = self.server.health.apply(platform)  # POST /_stub/health, stub_health.py
        if failing is not None:
            self._answer(failing, {"error": "stub_failure", "message": "told to fail"})
            return
        content_type = self.headers.get("Content-Type", "")
        if "json" in content_type:
            try:
                decoded = json.loads(raw or b"{}")
                params = {str(k): str(v) for k, v in decoded.items()}
            except (ValueError, AttributeError):
                params = {}
        else:
            parsed = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
            params = {k: v[-1] for k, v in parsed.items()}
        state = self.server.state
        method = params.get("method") or params.get("type") or ""
        with state.lock:
            try:
                body = router(state, params)
                outcome = "ok"
            except _Refused as refused:
                body, outcome = refused.body, "error_response"
            state.calls[platform].append(
                {"method": method, "outcome": outcome, "at": datetime.now(UTC).isoformat()}
            )
        self._answer(200, body)

    def _control(self, path: str, body: dict[str, Any]) -> None:
        parts = path.strip("/").split("/")
        state = self.server.state
        try:
            with state.lock:
                if path == "/_stub/reset":
                    state.reset()
                    self._answer(200, {"status": "reset"})
                elif len(parts) != 3 or parts[0] != "_stub" or parts[1] not in PLATFORMS:
                    self._answer(404, {"error": "not_found", "message": f"no POST {path}"})
                elif parts[2] == "fail":
                    kind = str(body.get("kind") or "system")
                    if kind not in INJECTED[parts[1]]:
                        raise ValueError(f"kind must be one of {', '.join(INJECTED[parts[1]])}")
                    count = int(body.get("count", 1))
                    state.failing[parts[1]] = (kind, count)
                    self._answer(200, {"status": "failing", "kind": kind, "count": count})
                elif parts[2] == "after-sales" and parts[1] in ("pinduoduo", "jd"):
                    self._answer(200, stub_after_sales.seed_after_sales(state, parts[1], body))
                elif parts[1:] == ["taobao", "refunds"]:
                    self._answer(200, stub_after_sales.seed_taobao_refund(state, body))
                elif parts[1:] == ["taobao", "orders"]:
                    self._answer(200, _seed_taobao(state, body))
                elif parts[1:] == ["taobao", "redeliver"]:
                    message_id = str(body.get("message_id") or "")
                    if message_id in state.confirmed:
                        state.confirmed.remove(message_id)
                    self._answer(200, {"status": "redelivering", "message_id": message_id})
                elif parts[1:] == ["pinduoduo", "orders"]:
                    answer = _seed_order(
                        state.pdd_orders, body.get("order"), "order_sn", "updated_at"
                    )
                    self._answer(200, answer)
                elif parts[1:] == ["jd", "orders"]:
                    answer = _seed_order(state.jd_orders, body.get("order"), "orderId", "modified")
                    self._answer(200, answer)
                else:
                    self._answer(404, {"error": "not_found", "message": f"no POST {path}"})
        except (ValueError, TypeError) as exc:
            self._answer(400, {"error": "invalid_payload", "message": str(exc)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        credentials: Mapping[str, Sequence[StubCredentials]],
        health: HealthControl | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.state = _State(credentials)
        self.health = health or HealthControl()  # outages told to the stub platform's control


class PullStub(BackgroundServer):
    """The three routers, served from a background thread; port 0 picks a free one."""

    _server: _Server

    def __init__(
        self,
        credentials: Mapping[str, Sequence[StubCredentials]],
        port: int = DEFAULT_PORT,
        health: HealthControl | None = None,
    ) -> None:
        super().__init__(_Server(("127.0.0.1", port), credentials, health), "stub-pull-platforms")

    def function_environment(self, settle_seconds: int = 2) -> dict[str, str]:
        """The functions' settings that point the pollers here. Locally the windows stay only
        `settle_seconds` behind the clock (AWS: 180), so an order seeded now is read soon."""
        return {
            "ORDERHUB_TAOBAO_API_URL": f"{self.url}{TAOBAO_PATH}",
            "ORDERHUB_PDD_API_URL": f"{self.url}{PDD_PATH}",
            "ORDERHUB_JD_API_URL": f"{self.url}{JD_PATH}",
            "ORDERHUB_PULL_SETTLE_SECONDS": str(settle_seconds),
        }


def seeded_credentials(stores: Iterable[Mapping[str, Any]]) -> dict[str, list[StubCredentials]]:
    """The pull stores' credentials from local/seed.json's `stores`."""
    found: dict[str, list[StubCredentials]] = {p: [] for p in PLATFORMS}
    for store in stores:
        secret = store.get("credentials") or {}
        if store.get("platform") in found:
            found[store["platform"]].append(
                StubCredentials(
                    str(secret.get("app_key") or secret.get("client_id") or ""),
                    str(secret.get("app_secret") or secret.get("client_secret") or ""),
                    str(secret.get("session") or secret.get("access_token") or ""),
                )
            )
    return found


def start_pull_stub(
    port_setting: str | None, seed_path: Path = SEED_PATH, health: HealthControl | None = None
) -> PullStub:
    """Start on ORDERHUB_PULL_STUB_PORT if given (taken: an error); else on 8011, or on a free
    port when 8011 is taken. Credentials: the seeded pull stores'. `health`: the control of
    simulated outages (the stub platform's `POST /_stub/health`)."""
    stores = json.loads(seed_path.read_text(encoding="utf-8")).get("stores", [])
    credentials = seeded_credentials(stores)
    return start_on_port(
        port_setting,
        DEFAULT_PORT,
        lambda port: PullStub(credentials, port=port, health=health),
        "the pull stubs",
    )
