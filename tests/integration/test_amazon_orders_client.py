"""The SP-API Orders client over real HTTP, against a scripted local server speaking LWA and
Orders v0 with Amazon's sample answers: the LWA token is fetched once and cached until it
expires; 429 is retried after what Amazon's headers say, within the call's wait budget;
a token refused early is renewed once; a slow answer times out as a transient failure;
404 is a rejection with a reason; items page with NextToken."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.adapters.amazon_orders import AmazonOrderApi, SpApiClient
from chalicelib.domain.details import OrderDetailsUnavailable, OrderNotOnPlatform
from chalicelib.domain.ports import Store
from tests.conftest import fixture_json

ORDER = fixture_json("amazon/getOrder_sandbox200.json")
ITEMS = fixture_json("amazon/getOrderItems_sandbox200.json")
PAGED = fixture_json("amazon/getOrderItems_example.json")
ORDER_ID = "902-1845936-5435065"
STORE = Store("amazon", "A1ORDERHUBTEST", "orderhub/stores/amazon/A1ORDERHUBTEST")
SECRET = {
    "lwa_client_id": "amzn1.application-oa2-client.test",
    "lwa_client_secret": "test-lwa-secret",
    "refresh_token": "Atzr|test-refresh",
}


class Script:
    """What the server answers; what it saw."""

    def __init__(self) -> None:
        self.tokens_issued = 0
        self.token_lifetime = 3600
        self.throttle = 0  # answer the next N Orders calls with 429
        self.retry_after: str | None = "0.05"
        self.rate_header: str | None = None
        self.deny = 0  # answer the next N Orders calls with 403 (a token revoked early)
        self.delay = 0.0
        self.paged = False
        self.calls: list[tuple[str, str]] = []  # (path with query, token)
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:
        return

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        script: Script = self.server.script
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        if form.get("refresh_token") != [SECRET["refresh_token"]]:
            self._send(400, {"error": "invalid_grant", "error_description": "bad refresh"})
            return
        with script.lock:
            script.tokens_issued += 1
            token = f"Atza|t{script.tokens_issued}"
        self._send(200, {"access_token": token, "expires_in": script.token_lifetime})

    def do_GET(self) -> None:
        script: Script = self.server.script
        url = urlsplit(self.path)
        token = self.headers.get("x-amz-access-token", "")
        with script.lock:
            script.calls.append((self.path, token))
            throttled = script.throttle > 0
            script.throttle -= 1 if throttled else 0
            denied = script.deny > 0
            script.deny -= 1 if denied else 0
        time.sleep(script.delay)
        if not token.startswith("Atza|") or denied:
            self._send(403, {"errors": [{"code": "Unauthorized", "message": "Access denied"}]})
            return
        if throttled:
            headers = {}
            if script.retry_after is not None:
                headers["Retry-After"] = script.retry_after
            if script.rate_header is not None:
                headers["x-amzn-RateLimit-Limit"] = script.rate_header
            self._send(
                429, {"errors": [{"code": "QuotaExceeded", "message": "throttled"}]}, headers
            )
            return
        parts = url.path.split("/")
        if len(parts) < 5 or parts[4] != ORDER_ID:
            self._send(404, {"errors": [{"code": "NotFound", "message": "Invalid order ID"}]})
            return
        if len(parts) == 5:
            self._send(200, ORDER, {"x-amzn-RateLimit-Limit": "0.5"})
            return
        if not script.paged:
            self._send(200, ITEMS)
            return
        # two pages: Amazon's example page (with its NextToken), then the sandbox items
        if "NextToken" not in parse_qs(url.query):
            page = copy.deepcopy(PAGED)
            for item in page["payload"]["OrderItems"]:
                for key in ("ItemPrice", "ShippingPrice"):
                    if key in item:
                        item[key]["CurrencyCode"] = "USD"
            self._send(200, page)
        else:
            self._send(200, ITEMS)


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.script = Script()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", httpd.script  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()


class Secrets:
    def __init__(self, secret: dict[str, Any] = SECRET) -> None:
        self.secret = secret

    def get_secret(self, name: str) -> dict[str, Any]:
        return self.secret


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def api(base: str, **options: Any) -> tuple[AmazonOrderApi, SpApiClient]:
    client = SpApiClient(base, f"{base}/auth/o2/token", **options)
    return AmazonOrderApi(Secrets(), client), client


def test_an_order_is_fetched_with_its_items_and_the_token_is_cached(server):
    base, script = server
    clock = Clock()
    orders, client = api(base, clock=clock)
    details = orders.fetch(STORE, ORDER_ID)
    assert details.currency == "USD" and str(details.lines[0].unit_price) == "11.01"
    orders.fetch(STORE, ORDER_ID)
    assert script.tokens_issued == 1 and client.token_requests == 1  # cached
    assert [path for path, _ in script.calls] == [
        f"/orders/v0/orders/{ORDER_ID}",
        f"/orders/v0/orders/{ORDER_ID}/orderItems",
    ] * 2
    assert {token for _, token in script.calls} == {"Atza|t1"}  # in x-amz-access-token
    clock.now += 3600 - 60 + 1  # a minute before it expires, the token is renewed
    orders.fetch(STORE, ORDER_ID)
    assert script.tokens_issued == 2 and script.calls[-1][1] == "Atza|t2"


def test_items_follow_next_token(server):
    base, script = server
    script.paged = True
    orders, _ = api(base)
    details = orders.fetch(STORE, ORDER_ID)
    assert {line.sku for line in details.lines} == {
        "CBA_OTF_1",
        "CBA_OTF_5",
        "NABetaASINB00551Q3CS",
    }
    assert script.calls[-1][0].endswith("/orderItems?NextToken=2YgYW55IGNhcm5hbCBwbGVhc3VyZS4")


def test_a_429_is_retried_after_retry_after(server):
    base, script = server
    script.throttle = 2
    slept: list[float] = []
    orders, _ = api(base, sleep=slept.append)
    assert orders.fetch(STORE, ORDER_ID).lines
    assert slept == [0.05, 0.05]


def test_without_retry_after_the_rate_header_sets_the_wait(server):
    base, script = server
    script.throttle, script.retry_after, script.rate_header = 1, None, "0.5"
    slept: list[float] = []
    orders, _ = api(base, sleep=slept.append)
    orders.fetch(STORE, ORDER_ID)
    assert slept == [2.0]  # one request's worth of 0.5 per second


def test_throttling_beyond_the_wait_budget_is_transient_for_the_sqs_retry(server):
    base, script = server
    script.throttle, script.retry_after = 10, "1.5"
    slept: list[float] = []
    orders, _ = api(base, sleep=slept.append, max_wait=2.0)
    with pytest.raises(OrderDetailsUnavailable, match=r"rate-limited \(429\)"):
        orders.fetch(STORE, ORDER_ID)
    assert slept == [1.5]  # a second wait would pass the budget


def test_a_token_refused_early_is_renewed_once(server):
    base, script = server
    orders, _ = api(base)
    orders.fetch(STORE, ORDER_ID)
    script.deny = 1
    orders.fetch(STORE, ORDER_ID)
    assert script.tokens_issued == 2
    script.deny = 5
    with pytest.raises(OrderDetailsUnavailable, match=r"access denied .*lwa_client_id"):
        orders.fetch(STORE, ORDER_ID)


def test_a_refused_refresh_token_names_the_secret(server):
    base, _ = server
    client = SpApiClient(base, f"{base}/auth/o2/token")
    orders = AmazonOrderApi(Secrets({**SECRET, "refresh_token": "Atzr|revoked"}), client)
    with pytest.raises(OrderDetailsUnavailable, match=r"LWA.*invalid_grant") as refused:
        orders.fetch(STORE, ORDER_ID)
    assert "revoked" not in refused.value.message and "test-lwa-secret" not in refused.value.message


def test_a_slow_answer_times_out_as_transient(server):
    base, script = server
    script.delay = 0.5
    orders, _ = api(base, timeout=0.1)
    started = time.monotonic()
    with pytest.raises(OrderDetailsUnavailable, match="unreachable"):
        orders.fetch(STORE, ORDER_ID)
    assert time.monotonic() - started < 0.45


def test_an_unknown_order_is_a_rejection_with_its_reason(server):
    base, _ = server
    orders, _ = api(base)
    with pytest.raises(
        OrderNotOnPlatform, match=r"111-0000000-0000000.*NotFound: Invalid order ID"
    ):
        orders.fetch(STORE, "111-0000000-0000000")


def test_an_api_that_is_down_is_transient():
    orders, _ = api("http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(OrderDetailsUnavailable, match="unreachable"):
        orders.fetch(STORE, ORDER_ID)


def test_missing_lwa_fields_are_transient_and_named(server):
    base, _ = server
    client = SpApiClient(base, f"{base}/auth/o2/token")
    orders = AmazonOrderApi(Secrets({"lwa_client_id": "x"}), client)
    with pytest.raises(OrderDetailsUnavailable, match="lacks lwa_client_secret, refresh_token"):
        orders.fetch(STORE, ORDER_ID)
