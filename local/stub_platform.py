"""A stub sales-platform API for the local stack: it takes stock pushes and remembers them.

OrderHub's stock pusher POSTs `{"sku", "quantity", "store", "platform"}` to
`/stock/{platform}/{store}` (the generic JSON adapter, chalicelib/adapters/channel_push.py:
own shops only); every marketplace's pushes arrive through its own inventory API
(local/stub_inventory.py) and are recorded in the same list with the `api` they came
through. For developers and tests:

- `GET /_stub/pushes` (optionally `?sku=`): every accepted push, oldest first, with its time;
- `POST /_stub/reset`: forget the pushes and any failure mode;
- `POST /_stub/fail {"status": 503, "count": N}`: answer the next N pushes with that status
  (count omitted or null: until reset; 0: stop failing). Refused pushes are not recorded.

It also serves BigCommerce's v2 Orders API (`GET /stores/{hash}/v2/orders/{id}[/products]`,
seeded with `POST /_stub/bigcommerce/orders`): see local/stub_bigcommerce.py. And TikTok Shop's
Get Order Detail (`GET /order/202309/orders`) and Douyin's order.orderDetail (`POST
/order/orderDetail`), signature-checked, seeded with `POST /_stub/{tiktok,douyin}/orders`:
see local/stub_tiktok_douyin.py. The channel health probes' endpoints (Shopify's and
WooCommerce's webhook lists, BigCommerce's hooks, TikTok's authorized shops, Douyin's
order.searchList) and `POST /_stub/health` (make a platform's probes fail or slow): see
local/stub_health.py.

Standard library only (ThreadingHTTPServer), on loopback; runs as a thread of the stack.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local.stub_bigcommerce import BigCommerceStub
from local.stub_health import HealthStub
from local.stub_inventory import InventoryStub
from local.stub_server import BackgroundServer, JsonHandler, start_on_port
from local.stub_tiktok_douyin import DouyinStub, TikTokStub

DEFAULT_PORT = 8010

log = logging.getLogger("orderhub.local.stub")


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pushes: list[dict[str, Any]] = []
        self.fail_status = 503
        self.fail_left: int | None = 0  # None: fail until reset
        self.bigcommerce = BigCommerceStub()
        self.tiktok, self.douyin = TikTokStub(), DouyinStub()
        self.health = HealthStub.from_seed()  # the health probes' endpoints and control
        # each platform's inventory, catalog and order-list APIs (local/stub_inventory.py)
        self.inventory = InventoryStub.from_seed(self.record, self.take_failure)
        self.health.douyin_day = self.inventory.douyin_day  # type: ignore[attr-defined]

    def record(self, push: dict[str, Any]) -> None:
        with self.lock:
            self.pushes.append(push)

    def take_failure(self) -> int | None:
        """The status to refuse this push with (`POST /_stub/fail`), if any."""
        with self.lock:
            if self.fail_left is None or self.fail_left > 0:
                if self.fail_left is not None:
                    self.fail_left -= 1
                return self.fail_status
            return None


class _Handler(JsonHandler):
    server: _Server

    def do_GET(self) -> None:
        if self.server.state.health.serve(self, "GET"):  # health probes, local/stub_health.py
            return
        if self.server.state.inventory.serve(self, "GET"):  # platforms' catalogs, order lists
            return
        url = urlsplit(self.path)
        if url.path.startswith("/stores/"):  # BigCommerce's Orders API
            token = self.headers.get("X-Auth-Token") or ""
            self._answer(*self.server.state.bigcommerce.get(url.path, url.query, token))
            return
        if url.path.startswith("/order/"):  # TikTok Shop's order API
            token = self.headers.get("x-tts-access-token") or ""
            self._answer(*self.server.state.tiktok.get(url.path, url.query, token))
            return
        if url.path != "/_stub/pushes":
            self._answer(404, {"error": "not_found", "message": f"no GET {url.path}"})
            return
        sku = parse_qs(url.query).get("sku", [None])[0]
        state = self.server.state
        with state.lock:
            pushes = [p for p in state.pushes if sku is None or p["sku"] == sku]
        self._answer(200, pushes)

    def do_PUT(self) -> None:
        if not self.server.state.inventory.serve(self, "PUT"):
            self._answer(404, {"error": "not_found", "message": f"no PUT {self.path}"})

    def do_PATCH(self) -> None:
        if not self.server.state.inventory.serve(self, "PATCH"):
            self._answer(404, {"error": "not_found", "message": f"no PATCH {self.path}"})

    def do_POST(self) -> None:
        if self.server.state.health.serve(self, "POST"):  # health probes, local/stub_health.py
            return
        if self.server.state.inventory.serve(self, "POST"):  # platforms' inventory APIs
            return
        path = urlsplit(self.path).path
        state = self.server.state
        if path.startswith("/order/"):  # Douyin's order API: signed over the raw body
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            self._answer(*state.douyin.call(path, urlsplit(self.path).query, raw))
            return
        try:
            body = self._json_body()
        except ValueError:
            self._answer(400, {"error": "invalid_payload", "message": "body is not JSON"})
            return
        parts = path.strip("/").split("/")
        if path == "/_stub/reset":
            with state.lock:
                state.pushes.clear()
                state.fail_left = 0
            self._answer(200, {"status": "reset"})
        elif path == "/_stub/fail":
            with state.lock:
                state.fail_status = int(body.get("status", 503))
                count = body.get("count")
                state.fail_left = None if count is None else int(count)
            self._answer(200, {"status": "failing", "count": count})
        elif (answer := state.inventory.control(path, body)) is not None:
            self._answer(*answer)
        elif path.startswith("/_stub/bigcommerce/"):
            self._answer(*state.bigcommerce.post(path, body))
        elif path.startswith("/_stub/tiktok/"):
            self._answer(*state.tiktok.post(path, body))
        elif path.startswith("/_stub/douyin/"):
            self._answer(*state.douyin.post(path, body))
        elif len(parts) == 3 and parts[0] == "stock":
            self._push(unquote(parts[1]), unquote(parts[2]), body)
        else:
            self._answer(404, {"error": "not_found", "message": f"no POST {path}"})

    def _push(self, platform: str, store: str, body: Any) -> None:
        quantity = body.get("quantity") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("sku"), str):
            self._answer(400, {"error": "invalid_payload", "message": "sku must be a string"})
            return
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            self._answer(400, {"error": "invalid_payload", "message": "quantity must be >= 0"})
            return
        state = self.server.state
        with state.lock:
            if state.fail_left is None or state.fail_left > 0:
                if state.fail_left is not None:
                    state.fail_left -= 1
                status = state.fail_status
                self._answer(status, {"error": "stub_failure", "message": "told to fail"})
                return
            state.pushes.append(
                {
                    "platform": platform,
                    "store": store,
                    "sku": body["sku"],
                    "quantity": quantity,
                    "api": "generic",
                    "body": body,
                    "received_at": datetime.now(UTC).isoformat(),
                }
            )
        self._answer(200, {"status": "ok"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.state = _State()


class StubPlatform(BackgroundServer):
    """The stub, served from a background thread; port 0 picks a free one."""

    _server: _Server

    def __init__(self, port: int = DEFAULT_PORT) -> None:
        super().__init__(_Server(("127.0.0.1", port)), "stub-platform")

    @property
    def inventory(self) -> InventoryStub:
        """The platforms' inventory APIs it serves (local/stub_inventory.py)."""
        return self._server.state.inventory

    def pushes(self) -> list[dict[str, Any]]:
        with self._server.state.lock:
            return list(self._server.state.pushes)

    @property
    def bigcommerce(self) -> BigCommerceStub:
        """The BigCommerce Orders API it serves: seed orders, make GETs fail, see requests."""
        return self._server.state.bigcommerce

    @property
    def tiktok(self) -> TikTokStub:
        """TikTok Shop's order API it serves (local/stub_tiktok_douyin.py)."""
        return self._server.state.tiktok

    @property
    def health(self) -> HealthStub:
        """The health probes' endpoints and their fail/slow control (local/stub_health.py)."""
        return self._server.state.health

    @property
    def douyin(self) -> DouyinStub:
        """Douyin's order API it serves (local/stub_tiktok_douyin.py)."""
        return self._server.state.douyin


def start_stub(port_setting: str | None) -> StubPlatform:
    """Start on ORDERHUB_STUB_PORT if given (taken: an error); else on 8010, or on a free port
    when 8010 is taken."""
    return start_on_port(port_setting, DEFAULT_PORT, StubPlatform, "the stub platform")
