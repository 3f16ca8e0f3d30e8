"""A stub tracking aggregator for the local stack: 快递100's subscription API and AfterShip's
trackings API on loopback, pushing tracks back to OrderHub's signed callback route exactly as
the real ones do (chalicelib/channels/tracking_*.py describe the shapes and signatures).

- `POST /poll` (快递100 subscribe, form `schema=json&param=...`): records the parcel with the
  `callbackurl` and `salt` it names; answers `{"result": true, "returnCode": "200"}`; a wrong
  `key` gets `{"result": false, "returnCode": "600"}`.
- `POST /poll/query.do` (快递100 query, form `customer`, `param`, `sign`): the parcel's track
  as `lastResult`-shaped JSON; unknown: `{"result": false, "returnCode": "500"}`.
- `POST /trackings`, `GET /trackings/{slug}/{number}` (AfterShip, `as-api-key` header).

For developers and tests:
- `POST /_stub/tracking/push {"provider"?: "kuaidi100" | "aftership", "carrier", "number",
  "checkpoints": [{"at": ISO 8601, "text"}], "delivered"?: bool}`: set the parcel's track and
  push it now, signed, to OrderHub's callback (快递100: the subscription's `callbackurl`;
  AfterShip: `{api}/tracking/aftership/callback`); answers the callback's status and body.
  Push once with old checkpoints and never again: a track that stops.
- `GET /_stub/tracking/subscriptions`: every subscription received, oldest first.

`seed_tracking_secrets` writes the providers' dev credentials into Secrets Manager
(`orderhub/tracking/kuaidi100`, `orderhub/tracking/aftership`), the same values this stub
checks and signs with.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from zoneinfo import ZoneInfo

from chalicelib.adapters.tracking_clients import secret_name
from chalicelib.channels.tracking_aftership import SIGNATURE_HEADER, sign_aftership
from chalicelib.channels.tracking_kuaidi100 import sign_kuaidi100, sign_kuaidi100_query
from local.stub_server import BackgroundServer, JsonHandler, start_on_port

DEFAULT_PORT = 8015
BEIJING = ZoneInfo("Asia/Shanghai")
KUAIDI100_SECRET = {
    "key": "oh_dev_kuaidi100_key",
    "customer": "OH_DEV_CUSTOMER",
    "salt": "oh_dev_kuaidi100_salt",
}
AFTERSHIP_SECRET = {"api_key": "oh_dev_aftership_key", "webhook_secret": "oh_dev_aftership_hook"}
SECRETS = {
    "orderhub/tracking/kuaidi100": KUAIDI100_SECRET,
    "orderhub/tracking/aftership": AFTERSHIP_SECRET,
}

log = logging.getLogger("orderhub.local.stub_tracking")


def seed_tracking_secrets(secretsmanager: Any, stage: str = "") -> None:
    """The providers' secrets under the stage's names (the names above for the stage "")."""
    for name, value in SECRETS.items():
        staged = secret_name(name.rsplit("/", 1)[1], stage)
        secretsmanager.create_secret(Name=staged, SecretString=json.dumps(value))


class _State:
    def __init__(self, api_url: str) -> None:
        self.lock = threading.Lock()
        self.api_url = api_url
        self.subscriptions: list[dict[str, Any]] = []
        self.tracks: dict[tuple[str, str], dict[str, Any]] = {}

    def subscription(self, provider: str, carrier: str, number: str) -> dict[str, Any] | None:
        return next(
            (
                s
                for s in reversed(self.subscriptions)
                if (s["provider"], s["carrier"], s["number"]) == (provider, carrier, number)
            ),
            None,
        )


def _beijing(at: str) -> str:
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def kuaidi100_result(track: dict[str, Any]) -> dict[str, Any]:
    """The track in 快递100's `lastResult` shape (newest first, Beijing wall-clock)."""
    rows = [
        {
            "context": c["text"],
            "time": _beijing(c["at"]),
            "ftime": _beijing(c["at"]),
            "status": "签收" if track.get("delivered") and i == 0 else "在途",
            "areaCode": "",
            "areaName": "",
        }
        for i, c in enumerate(sorted(track["checkpoints"], key=lambda c: c["at"], reverse=True))
    ]
    delivered = bool(track.get("delivered"))
    return {
        "message": "ok",
        "state": "3" if delivered else "0",
        "status": "200",
        "condition": "F00",
        "ischeck": "1" if delivered else "0",
        "com": track["carrier"],
        "nu": track["number"],
        "data": rows,
    }


def aftership_tracking(track: dict[str, Any]) -> dict[str, Any]:
    checkpoints = [
        {"checkpoint_time": c["at"], "message": c["text"], "tag": "InTransit", "location": ""}
        for c in sorted(track["checkpoints"], key=lambda c: c["at"])
    ]
    return {
        "tracking_number": track["number"],
        "slug": track["carrier"],
        "tag": "Delivered" if track.get("delivered") else "InTransit",
        "checkpoints": checkpoints,
    }


def _post(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def push(state: _State, body: dict[str, Any]) -> dict[str, Any]:
    provider = str(body.get("provider") or "kuaidi100")
    carrier = str(body.get("carrier") or "").lower()
    number = str(body.get("number") or "").upper()
    checkpoints = body.get("checkpoints")
    if provider not in ("kuaidi100", "aftership") or not carrier or not number:
        raise ValueError("provider (kuaidi100 | aftership), carrier and number are required")
    if not isinstance(checkpoints, list) or not all(
        isinstance(c, dict) and "at" in c and "text" in c for c in checkpoints
    ):
        raise ValueError("checkpoints must list {at, text}")
    track = {
        "carrier": carrier,
        "number": number,
        "checkpoints": checkpoints,
        "delivered": bool(body.get("delivered")),
    }
    with state.lock:
        state.tracks[(carrier, number)] = track
        subscription = state.subscription(provider, carrier, number)
    if provider == "kuaidi100":
        if subscription is None:
            raise ValueError(f"{carrier} {number} was never subscribed with kuaidi100")
        param = json.dumps(
            {"status": "polling", "message": "", "lastResult": kuaidi100_result(track)},
            ensure_ascii=False,
        )
        form = urlencode({"sign": sign_kuaidi100(param, subscription["salt"]), "param": param})
        status, answer = _post(
            subscription["callback"],
            form.encode("utf-8"),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
    else:
        raw = json.dumps(
            {"event": "tracking_update", "msg": aftership_tracking(track), "ts": 0}
        ).encode()
        signature = sign_aftership(AFTERSHIP_SECRET["webhook_secret"], raw)
        status, answer = _post(
            f"{state.api_url}/tracking/aftership/callback",
            raw,
            {"Content-Type": "application/json", SIGNATURE_HEADER: signature},
        )
    return {"callback_status": status, "callback_answer": answer}


class _Handler(JsonHandler):
    server: _Server

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        state = self.server.state
        if path == "/_stub/tracking/subscriptions":
            with state.lock:
                self._answer(200, list(state.subscriptions))
            return
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "trackings":
            if self.headers.get("as-api-key") != AFTERSHIP_SECRET["api_key"]:
                self._answer(401, {"meta": {"code": 401}})
                return
            with state.lock:
                track = state.tracks.get((parts[1].lower(), parts[2].upper()))
            if track is None:
                self._answer(404, {"meta": {"code": 4004, "message": "Tracking does not exist."}})
                return
            self._answer(
                200, {"meta": {"code": 200}, "data": {"tracking": aftership_tracking(track)}}
            )
            return
        self._answer(404, {"error": "not_found", "message": f"no GET {path}"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        raw = self._raw()
        state = self.server.state
        try:
            if path == "/poll":
                form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
                param = json.loads(form.get("param") or "{}")
                if param.get("key") != KUAIDI100_SECRET["key"]:
                    self._answer(200, {"result": False, "returnCode": "600", "message": "key"})
                    return
                parameters = param.get("parameters") or {}
                with state.lock:
                    state.subscriptions.append(
                        {
                            "provider": "kuaidi100",
                            "carrier": str(param.get("company") or "").lower(),
                            "number": str(param.get("number") or "").upper(),
                            "callback": parameters.get("callbackurl"),
                            "salt": parameters.get("salt") or "",
                            "at": datetime.now(UTC).isoformat(),
                        }
                    )
                self._answer(200, {"result": True, "returnCode": "200", "message": "提交成功"})
            elif path == "/poll/query.do":
                form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
                expected = sign_kuaidi100_query(
                    form.get("param", ""), KUAIDI100_SECRET["key"], form.get("customer", "")
                )
                if form.get("sign") != expected:
                    self._answer(200, {"result": False, "returnCode": "601", "message": "sign"})
                    return
                param = json.loads(form.get("param") or "{}")
                with state.lock:
                    track = state.tracks.get(
                        (str(param.get("com") or "").lower(), str(param.get("num") or "").upper())
                    )
                if track is None:
                    self._answer(
                        200, {"result": False, "returnCode": "500", "message": "查询无结果"}
                    )
                else:
                    self._answer(200, kuaidi100_result(track))
            elif path == "/trackings":
                if self.headers.get("as-api-key") != AFTERSHIP_SECRET["api_key"]:
                    self._answer(401, {"meta": {"code": 401}})
                    return
                tracking = (json.loads(raw or b"{}").get("tracking")) or {}
                with state.lock:
                    state.subscriptions.append(
                        {
                            "provider": "aftership",
                            "carrier": str(tracking.get("slug") or "").lower(),
                            "number": str(tracking.get("tracking_number") or "").upper(),
                            "callback": f"{state.api_url}/tracking/aftership/callback",
                            "salt": "",
                            "at": datetime.now(UTC).isoformat(),
                        }
                    )
                self._answer(201, {"meta": {"code": 201}, "data": {"tracking": tracking}})
            elif path == "/_stub/tracking/push":
                self._answer(200, push(state, json.loads(raw or b"{}")))
            else:
                self._answer(404, {"error": "not_found", "message": f"no POST {path}"})
        except (ValueError, TypeError, AttributeError) as exc:
            self._answer(400, {"error": "invalid_payload", "message": str(exc)})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api_url: str) -> None:
        super().__init__(address, _Handler)
        self.state = _State(api_url)


class TrackingStub(BackgroundServer):
    _server: _Server

    def __init__(self, api_url: str, port: int = DEFAULT_PORT) -> None:
        super().__init__(_Server(("127.0.0.1", port), api_url), "stub-tracking")

    def function_environment(self) -> dict[str, str]:
        return {"ORDERHUB_KUAIDI100_API_URL": self.url, "ORDERHUB_AFTERSHIP_API_URL": self.url}


def start_tracking_stub(port_setting: str | None, api_url: str) -> TrackingStub:
    """On ORDERHUB_TRACKING_STUB_PORT if given (taken: an error); else 8015, or a free port."""
    return start_on_port(
        port_setting, DEFAULT_PORT, lambda port: TrackingStub(api_url, port), "the tracking stub"
    )
