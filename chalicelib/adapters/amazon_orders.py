"""Amazon SP-API Orders v0 over HTTP: the order fetch behind ORDER_CHANGE notifications
(`AmazonOrderApi`, domain/details.py's port) and the backup poll of recently updated orders
(`AmazonRecentOrders`, domain/polling.py's `IncrementalSource`). Requests and answers are
built and read in channels/amazon_orders.py; this module does the I/O.

`SpApiClient`
    - LWA access tokens per store (`POST` the refresh-token grant to the LWA URL), cached in
      memory until a minute before they expire, so a warm Lambda asks LWA once an hour per
      store; a refresh token or client that changes (a rotated secret) gets its own token.
      An SP-API 401/403 drops the cached token and asks once more with a fresh one (a token
      revoked early), then is a credentials failure.
    - Rate limits: a 429 is retried after `rate_wait` (`Retry-After`, else the rate in
      `x-amzn-RateLimit-Limit`, else the operation's documented rate: getOrder 2 s), while
      the waits of one call stay within `max_wait` (2 s by default: a processor invocation
      shares 10 s among up to 10 records); beyond it the call fails as `unavailable` and the
      SQS message (or the next poll run) tries again later, which spreads the load as SQS's
      visibility timeout does. getOrders' 1 request a minute is never waited for inline.
    - Every request has a timeout (3 s, as the other platforms' order APIs).

Failures (`SpApiFailure.kind`), mapped by each caller:
    `not_found` (404) → the fetch raises `OrderNotOnPlatform` (rejected with the reason,
    nothing booked); the poll `PlatformRequestRejected`;
    `credentials` (LWA 400/401, SP-API 401/403 after a fresh token, fields missing from the
    secret) → the fetch `OrderDetailsUnavailable` naming the secret's fields (retried, then
    the DLQ); the poll `PlatformCredentialsRejected` (alarm `orderhub-pull-store-failures`);
    `rejected` (400 and other 4xx) → the fetch `OrderDetailsUnavailable`, the poll
    `PlatformRequestRejected`;
    `unavailable` (429 beyond the wait, 5xx, timeouts, refused connections, answers that are
    not JSON or not SP-API's shape) → `OrderDetailsUnavailable` / `PlatformUnavailable`.
Messages quote SP-API's error code and message, never a token or a secret.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalicelib.channels import amazon_orders as sp
from chalicelib.domain.details import OrderDetails, OrderDetailsUnavailable, OrderNotOnPlatform
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.polling import (
    Batch,
    PlatformCredentialsRejected,
    PlatformRequestRejected,
    PlatformUnavailable,
    Window,
)
from chalicelib.domain.ports import SecretSource, Store
from chalicelib.settings import DEFAULT_AMAZON_API_URL, DEFAULT_AMAZON_LWA_URL

DEFAULT_TIMEOUT = 3.0  # seconds per request, as the other platforms' order APIs
DEFAULT_MAX_WAIT = 2.0  # seconds of 429 backoff one call may spend
TOKEN_MARGIN = 60.0  # a cached token is renewed this long before it expires
MAX_ATTEMPTS = 4


class SpApiFailure(Exception):
    """An SP-API or LWA call that did not give an answer OrderHub can use."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # not_found | credentials | rejected | unavailable
        self.message = message


@dataclass(frozen=True)
class Answer:
    text: str
    payload: Any  # JSON, non-integers as Decimal


class SpApiClient:
    """GETs to SP-API with a cached LWA token, 429 backoff and timeouts (module docstring)."""

    def __init__(
        self,
        base_url: str = DEFAULT_AMAZON_API_URL,
        lwa_url: str = DEFAULT_AMAZON_LWA_URL,
        timeout: float = DEFAULT_TIMEOUT,
        max_wait: float = DEFAULT_MAX_WAIT,
        opener: Callable[..., Any] = urllib.request.urlopen,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._base = (base_url or DEFAULT_AMAZON_API_URL).rstrip("/")
        self._lwa_url = lwa_url or DEFAULT_AMAZON_LWA_URL
        self._timeout = timeout
        self._max_wait = max_wait
        self._open = opener
        self._sleep = sleep
        self._clock = clock
        self._tokens: dict[str, tuple[str, float]] = {}  # key -> (token, renew at: clock)
        self.token_requests = 0  # LWA exchanges made (observability, tests)

    # ---- transport ----------------------------------------------------------------------

    def _exchange(
        self, request: urllib.request.Request, where: str
    ) -> tuple[int, bytes, dict[str, str]]:
        """(status, body, headers) of one request, error statuses included."""
        try:
            with self._open(request, timeout=self._timeout) as response:
                headers = dict(getattr(response, "headers", {}) or {})
                return int(getattr(response, "status", 200)), response.read(), headers
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read() or b""
            except (OSError, AttributeError):
                body = b""
            return exc.code, body, dict(exc.headers or {})
        except (urllib.error.URLError, OSError) as exc:  # refused, DNS, timeout
            why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise SpApiFailure("unavailable", f"{where} unreachable: {why}") from None

    @staticmethod
    def _json(raw: bytes) -> Any:
        try:
            return json.loads(raw, parse_float=Decimal) if raw else None
        except (ValueError, UnicodeDecodeError):
            return None

    # ---- LWA ----------------------------------------------------------------------------

    def _token(self, store: Store, credentials: sp.SpApiCredentials) -> str:
        key = f"{store.store_id}|{credentials.cache_key}"
        cached = self._tokens.get(key)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        request = urllib.request.Request(
            self._lwa_url,
            data=sp.token_form(credentials),
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
            method="POST",
        )
        self.token_requests += 1
        status, raw, _ = self._exchange(request, "Amazon's login (LWA)")
        payload = self._json(raw)
        if status in (400, 401):
            said = ""
            if isinstance(payload, Mapping):
                said = f": {payload.get('error', '')} {payload.get('error_description', '')}"
            raise SpApiFailure(
                "credentials",
                f"Amazon's login (LWA) refused store {store.store_id}'s refresh token or "
                f"client ({status}{said.rstrip()})",
            )
        if status != 200:
            raise SpApiFailure("unavailable", f"Amazon's login (LWA) answered {status}")
        try:
            token, lifetime = sp.read_token(payload)
        except InvalidPayload as exc:
            why = f"LWA's answer is unreadable: {exc.message}"
            raise SpApiFailure("unavailable", why) from None
        self._tokens[key] = (token, self._clock() + max(lifetime - TOKEN_MARGIN, 1.0))
        return token

    # ---- SP-API -------------------------------------------------------------------------

    def get(
        self, store: Store, credentials: sp.SpApiCredentials, path: str, operation: str
    ) -> Answer:
        """The JSON answer of one SP-API GET, after token renewal and 429 backoff;
        SpApiFailure otherwise."""
        where = f"Amazon SP-API {operation} for store {store.store_id}"
        waited = 0.0
        renewed = False
        for _ in range(MAX_ATTEMPTS):
            token = self._token(store, credentials)
            request = urllib.request.Request(
                f"{self._base}{path}",
                headers={sp.TOKEN_HEADER: token, "Accept": "application/json"},
                method="GET",
            )
            status, raw, headers = self._exchange(request, where)
            payload = self._json(raw)
            if status == 200:
                if payload is None:
                    raise SpApiFailure("unavailable", f"{where}: the answer is not JSON")
                return Answer(raw.decode("utf-8", "replace"), payload)
            said = sp.refusal(payload)
            said = f" ({said})" if said else ""
            if status in (401, 403) and not renewed:  # expired or revoked early: renew once
                self._tokens.pop(f"{store.store_id}|{credentials.cache_key}", None)
                renewed = True
                continue
            if status == 429:
                wait = sp.rate_wait(operation, headers)
                if waited + wait <= self._max_wait:
                    self._sleep(wait)
                    waited += wait
                    continue
                raise SpApiFailure(
                    "unavailable",
                    f"{where}: rate-limited (429){said}; Amazon asks to wait {wait:g} s",
                )
            raise self._failure(status, where, said)
        raise SpApiFailure("unavailable", f"{where}: rate-limited (429) after {waited:g} s")

    @staticmethod
    def _failure(status: int, where: str, said: str) -> SpApiFailure:
        if status == 404:
            return SpApiFailure("not_found", f"{where}: not found (404){said}")
        if status in (401, 403):
            return SpApiFailure(
                "credentials",
                f"{where}: access denied ({status}){said}; the application may lack the "
                "Orders role for this seller",
            )
        if 400 <= status < 500:
            return SpApiFailure("rejected", f"{where}: request refused ({status}){said}")
        return SpApiFailure("unavailable", f"{where}: answered {status}{said}")


def _store_credentials(secrets: SecretSource, store: Store) -> sp.SpApiCredentials:
    credentials, missing = sp.sp_api_credentials(secrets.get_secret(store.secret_name))
    if credentials is None:
        raise SpApiFailure(
            "credentials",
            f"the Amazon store {store.store_id}'s secret lacks {', '.join(missing)} "
            f"(needs {sp.SECRET_FIELDS})",
        )
    return credentials


class AmazonOrderApi:
    """getOrder + getOrderItems for one order: a notification's details before booking."""

    def __init__(self, secrets: SecretSource, client: SpApiClient) -> None:
        self._secrets = secrets
        self._client = client

    def fetch(self, store: Store, order_id: str) -> OrderDetails:
        try:
            credentials = _store_credentials(self._secrets, store)
            order = self._client.get(store, credentials, sp.order_path(order_id), sp.GET_ORDER)
            items: list[Any] = []
            next_token: str | None = None
            for _ in range(sp.MAX_ITEM_PAGES):
                path = sp.items_path(order_id, next_token)
                page = self._client.get(store, credentials, path, sp.GET_ORDER_ITEMS)
                batch, next_token = sp.items_page(page.payload)
                items.extend(batch)
                if not next_token:
                    break
            else:
                raise InvalidPayload(f"more than {sp.MAX_ITEM_PAGES} pages of order items")
            return sp.order_details(sp.order_payload(order.payload, order_id), items)
        except SpApiFailure as exc:
            raise self._mapped(exc, store, order_id) from None
        except InvalidPayload as exc:
            raise OrderDetailsUnavailable(
                f"Amazon's answer for order {order_id} of store {store.store_id} is not one "
                f"OrderHub can read: {exc.message}; retrying (a lasting one ends in the DLQ)"
            ) from None

    @staticmethod
    def _mapped(exc: SpApiFailure, store: Store, order_id: str) -> Exception:
        if exc.kind == "not_found":
            return OrderNotOnPlatform(
                f"order {order_id} does not exist for Amazon seller {store.store_id} "
                f"({exc.message}); nothing was booked. If the order is real, check that the "
                "store's refresh token is the one this seller authorized"
            )
        if exc.kind == "credentials":
            return OrderDetailsUnavailable(
                f"fetching order {order_id}: {exc.message}. Fix {sp.SECRET_FIELDS} in secret "
                f"{store.secret_name}; the event is retried, then kept in the DLQ"
            )
        return OrderDetailsUnavailable(f"fetching order {order_id}: {exc.message}; retrying")


class AmazonRecentOrders:
    """getOrders pages of one store's seller-fulfilled orders updated in a window, as thin
    events (`polling.IncrementalSource`). `known(order_id, updated_at)` says OrderHub
    already holds that order at that version or later: those are not queued (each queued
    event costs two Orders API calls in the processor, and most were notified already)."""

    def __init__(
        self,
        secrets: SecretSource,
        client: SpApiClient,
        store: Store,
        known: Callable[[str, datetime], bool],
        clock: Callable[[], datetime],
    ) -> None:
        self._secrets = secrets
        self._client = client
        self._store = store
        self._known = known
        self._clock = clock
        self.skipped = 0  # listed orders OrderHub already held at that version

    def batches(self, window: Window) -> Iterator[Batch]:
        store = self._store
        try:
            credentials = _store_credentials(self._secrets, store)
        except SpApiFailure as exc:
            raise PlatformCredentialsRejected(exc.message) from None
        next_token: str | None = None
        while True:
            path = sp.orders_path(window.start, window.end, credentials.marketplace_ids, next_token)
            try:
                answer = self._client.get(store, credentials, path, sp.GET_ORDERS)
                orders, next_token = sp.orders_page(answer.payload)
                events = [
                    e
                    for i, order in enumerate(orders)
                    if (e := sp.poll_event(order, i, store.store_id, self._clock())) is not None
                ]
            except SpApiFailure as exc:
                raise self._mapped(exc) from None
            except InvalidPayload as exc:
                raise PlatformUnavailable(
                    f"Amazon's getOrders answer for store {store.store_id} is unreadable: "
                    f"{exc.message}"
                ) from None
            fresh = tuple(e for e in events if not self._known(e.order_id, e.updated_at))
            self.skipped += len(events) - len(fresh)
            yield Batch(fresh, answer.text)
            if not next_token:
                return

    @staticmethod
    def _mapped(exc: SpApiFailure) -> Exception:
        if exc.kind == "credentials":
            return PlatformCredentialsRejected(exc.message)
        if exc.kind in ("not_found", "rejected"):
            return PlatformRequestRejected(exc.message)
        return PlatformUnavailable(exc.message)
