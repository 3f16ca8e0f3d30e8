"""A stub WeCom / DingTalk group-robot receiver for the local stack: it captures what would
have been sent, checked the way the real robots check it.

- `POST /cgi-bin/webhook/send?key=KEY` (WeCom): the key must be one the stub issued; the body
  a JSON message; markdown content at most 4096 UTF-8 bytes (else errcode 40058, WeCom's own).
- `POST /robot/send?access_token=T&timestamp=MS&sign=S` (DingTalk): the token must be one the
  stub issued; when its robot has a secret, `timestamp` must be within an hour of now and
  `sign` must be DingTalk's HMAC-SHA256 over `timestamp + "\\n" + secret` (else errcode 310000,
  "sign not match", as DingTalk answers).
- Both answer HTTP 200 with `{"errcode": 0, "errmsg": "ok"}` like the real robots, and an
  errcode otherwise (HTTP 200 still: the robots put errors in the body).

- `POST /_stub/sms {"message_id", "to", "message"}`: the local phone. moto's SNS keeps texts
  to itself; the emulator posts each one here (local/alarm_actions.py). `to` must be E.164.

For developers and tests:
- `GET /_stub/notifications` (optionally `?robot=wecom|dingtalk`): every accepted message,
  oldest first: `{"robot", "name", "body", "query", "received_at"}` (query without `sign`);
- `GET /_stub/sms` (optionally `?to=+86...`): every text, oldest first:
  `{"message_id", "to", "message", "received_at"}`;
- `POST /_stub/reset`: forget them and any failure mode;
- `POST /_stub/fail {"robot": "wecom", "errcode": 45009, "count": 1}` (or `"status": 500`):
  answer that robot's next N posts so (count null: until reset).

The robots (names, keys, tokens, the DingTalk secret) are fixed dev-only values; the stack
writes `local_config()` — the routing configuration pointing at this stub — into the
emulated Secrets Manager as `orderhub/notifications` (local/notify_local.py).
Standard library only (ThreadingHTTPServer), on loopback; runs as a thread of the stack.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chalicelib.domain.notify_formats import WECOM_MAX_BYTES, dingtalk_sign
from local.stub_server import BackgroundServer, JsonHandler, start_on_port

DEFAULT_PORT = 8012
DINGTALK_WINDOW_MS = 3600 * 1000  # DingTalk: the timestamp within an hour of its clock

# dev-only robots: their credentials grant nothing anywhere
WECOM_ROBOTS = {"devonly-wecom-ops-key": "ops-wecom"}
DINGTALK_ROBOTS = {
    "devonly-dingtalk-ops-token": ("ops-dingtalk", "SECdevonly0local0dingtalk0signing0secret"),
}
EMAIL_SENDER = "orderhub-alerts@example.com"
SMS_NUMBERS = ("+8613800000000",)  # dev-only: the on-call phone of the local config
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

log = logging.getLogger("orderhub.local.stub_notify")


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.captured: list[dict[str, Any]] = []
        self.failing: dict[str, dict[str, Any]] = {}  # robot -> {errcode|status, left}
        self.texts: list[dict[str, Any]] = []


class _Handler(JsonHandler):
    server: _Server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/_stub/sms":
            to = parse_qs(url.query).get("to", [None])[0]
            with self.server.state.lock:
                texts = [t for t in self.server.state.texts if to is None or t["to"] == to]
            self._answer(200, texts)
            return
        if url.path != "/_stub/notifications":
            self._answer(404, {"error": "not_found", "message": f"no GET {url.path}"})
            return
        robot = parse_qs(url.query).get("robot", [None])[0]
        state = self.server.state
        with state.lock:
            found = [c for c in state.captured if robot is None or c["robot"] == robot]
        self._answer(200, found)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        raw = self._raw()
        state = self.server.state
        if url.path == "/_stub/reset":
            with state.lock:
                state.captured.clear()
                state.failing.clear()
                state.texts.clear()
            self._answer(200, {"status": "reset"})
        elif url.path == "/_stub/sms":
            self._text(raw)
        elif url.path == "/_stub/fail":
            self._fail(raw)
        elif url.path == "/cgi-bin/webhook/send":
            self._robot("wecom", query, raw)
        elif url.path == "/robot/send":
            self._robot("dingtalk", query, raw)
        else:
            self._answer(404, {"error": "not_found", "message": f"no POST {url.path}"})

    def _text(self, raw: bytes) -> None:
        try:
            record = json.loads(raw or b"{}")
        except ValueError:
            record = None
        if not isinstance(record, dict) or not _E164.match(str(record.get("to", ""))):
            message = 'need {"to": "+<E.164 number>", "message": "...", "message_id": "..."}'
            self._answer(400, {"error": "invalid_payload", "message": message})
            return
        text = {
            "message_id": str(record.get("message_id", "")),
            "to": record["to"],
            "message": str(record.get("message", "")),
            "received_at": datetime.now(UTC).isoformat(),
        }
        with self.server.state.lock:
            self.server.state.texts.append(text)
        self._answer(200, {"status": "delivered"})

    def _fail(self, raw: bytes) -> None:
        try:
            spec = json.loads(raw or b"{}")
        except ValueError:
            spec = None
        robot = spec.get("robot") if isinstance(spec, dict) else None
        if not isinstance(spec, dict) or robot not in ("wecom", "dingtalk"):
            message = 'need {"robot": "wecom" | "dingtalk", ...}'
            self._answer(400, {"error": "invalid_payload", "message": message})
            return
        with self.server.state.lock:
            self.server.state.failing[robot] = {
                "status": int(spec.get("status") or 200),
                "errcode": int(spec.get("errcode") or (0 if spec.get("status") else 45009)),
                "left": spec.get("count"),
            }
        self._answer(200, {"status": "failing", "robot": robot, "count": spec.get("count")})

    def _robot(self, robot: str, query: dict[str, str], raw: bytes) -> None:
        refusal = self._forced_failure(robot)
        if refusal is not None:
            self._answer(*refusal)
            return
        if robot == "wecom":
            name = WECOM_ROBOTS.get(query.get("key", ""))
            if name is None:  # WeCom answers an unknown key with 93000
                self._answer(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
                return
        else:
            found = DINGTALK_ROBOTS.get(query.get("access_token", ""))
            if found is None:  # the stub's own code for an unknown token
                self._answer(200, {"errcode": 300001, "errmsg": "token is not exist"})
                return
            name, secret = found
            if secret and not _sign_ok(secret, query.get("timestamp", ""), query.get("sign", "")):
                self._answer(200, {"errcode": 310000, "errmsg": "sign not match"})
                return
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            self._answer(200, {"errcode": 40001, "errmsg": "invalid json"})  # stub's own
            return
        problem = _shape_problem(robot, body)
        if problem:
            self._answer(200, problem)
            return
        with self.server.state.lock:
            self.server.state.captured.append(
                {
                    "robot": robot,
                    "name": name,
                    "body": body,
                    "query": {k: v for k, v in query.items() if k != "sign"},
                    "received_at": datetime.now(UTC).isoformat(),
                }
            )
        self._answer(200, {"errcode": 0, "errmsg": "ok"})

    def _forced_failure(self, robot: str) -> tuple[int, dict[str, Any]] | None:
        state = self.server.state
        with state.lock:
            mode = state.failing.get(robot)
            if mode is None or (mode["left"] is not None and mode["left"] <= 0):
                return None
            if mode["left"] is not None:
                mode["left"] -= 1
        if mode["status"] != 200:
            return mode["status"], {"error": "stub_failure", "message": "told to fail"}
        return 200, {"errcode": mode["errcode"], "errmsg": "told to fail (stub)"}


def _sign_ok(secret: str, timestamp: str, sign: str) -> bool:
    try:
        millis = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() * 1000 - millis) > DINGTALK_WINDOW_MS:
        return False
    # the query string was decoded once by parse_qs; compare the decoded forms
    expected = parse_qs(f"s={dingtalk_sign(secret, millis)}")["s"][0]
    return hmac.compare_digest(expected.encode(), sign.encode())


def _shape_problem(robot: str, body: Any) -> dict[str, Any] | None:
    """The stub's check of the message shape the robot documents (None: fine)."""
    if not isinstance(body, dict) or body.get("msgtype") != "markdown":
        return {"errcode": 40008, "errmsg": "invalid message type"}  # WeCom's code for it
    markdown = body.get("markdown")
    if robot == "wecom":
        content = markdown.get("content") if isinstance(markdown, dict) else None
        if not isinstance(content, str) or not content:
            return {"errcode": 41009, "errmsg": "missing markdown.content"}
        if len(content.encode("utf-8")) > WECOM_MAX_BYTES:
            return {
                "errcode": 40058,
                "errmsg": f"markdown.content exceed max length {WECOM_MAX_BYTES}",
            }
        return None
    if not isinstance(markdown, dict) or not all(
        isinstance(markdown.get(k), str) and markdown.get(k) for k in ("title", "text")
    ):
        return {"errcode": 40035, "errmsg": "markdown needs title and text"}  # stub's own
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.state = _State()


class StubNotify(BackgroundServer):
    """The robots' stub, served from a background thread; port 0 picks a free one."""

    _server: _Server

    def __init__(self, port: int = DEFAULT_PORT) -> None:
        super().__init__(_Server(("127.0.0.1", port)), "stub-notify")

    def captured(self, robot: str | None = None) -> list[dict[str, Any]]:
        with self._server.state.lock:
            return [c for c in self._server.state.captured if robot in (None, c["robot"])]

    def texts(self) -> list[dict[str, Any]]:
        with self._server.state.lock:
            return list(self._server.state.texts)

    def local_config(self, email_to: tuple[str, ...] = ("ops@example.com",)) -> dict[str, Any]:
        """The `orderhub/notifications` routing configuration pointing at this stub: every
        alert (P0-P2) to SNS by priority and both robots, P0 also by email and SMS; finance
        notices to the finance topic and by email."""
        (wecom_key, wecom_name), *_ = WECOM_ROBOTS.items()
        (token, (dingtalk_name, secret)), *_ = DINGTALK_ROBOTS.items()
        return {
            "email": {"sender": f"OrderHub <{EMAIL_SENDER}>"},
            "channels": {
                wecom_name: {
                    "type": "wecom",
                    "url": f"{self.url}/cgi-bin/webhook/send?key={wecom_key}",
                },
                dingtalk_name: {
                    "type": "dingtalk",
                    "url": f"{self.url}/robot/send?access_token={token}",
                    "secret": secret,
                    "at_mobiles": [],
                    "at_all": False,
                    "mention_on": ["P0"],
                },
                "ops-mail": {"type": "email", "to": list(email_to)},
                # a dev budget roomy enough for a session of tests; AWS's default is 5 an hour
                "ops-sms": {"type": "sms", "to": list(SMS_NUMBERS), "limit": 100},
                "finance-mail": {"type": "email", "to": ["finance@example.com"]},
            },
            "routes": [
                {
                    "audiences": ["*"],
                    "priorities": ["P0", "P1", "P2"],
                    "sns": "priority",
                    "channels": [wecom_name, dingtalk_name],
                },
                {"audiences": ["*"], "priorities": ["P0"], "channels": ["ops-mail", "ops-sms"]},
                {
                    "audiences": ["finance"],
                    "priorities": ["*"],
                    "sns": "finance",
                    "channels": ["finance-mail"],
                },
            ],
        }


def start_notify_stub(port_setting: str | None) -> StubNotify:
    """On ORDERHUB_NOTIFY_STUB_PORT if given (taken: an error); else 8012, or a free port when
    8012 is taken."""
    return start_on_port(port_setting, DEFAULT_PORT, StubNotify, "the notification stub")
