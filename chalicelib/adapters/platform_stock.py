"""Stock pushes through each platform's own inventory API (`StockPushClient`), and catalog
lookups for the listing map (`ListingLookup`).

`PlatformStockPush` sends the calls a platform module (chalicelib/channels/*_stock.py)
builds, for one store at a time:
- credentials from the store's secret (`effective_secret`: the newest during a rotation);
- the listing of each SKU from the map (`orderhub-listings`), looked up in the platform's
  catalog when missing (an unmapped SKU is `ListingUnmapped`: a P2 anomaly, no push);
- rate limits: calls to one store are spaced by the platform's rate, and the platform's own
  hints (BigCommerce's reset header, Shopify's cost bucket, Retry-After) are waited out;
- 429 and 5xx, timeouts and refused connections are retried with exponential backoff
  (3 attempts, waits capped at 2 s so a run keeps its time), then `ChannelUnavailable`: the
  SKU stays pending and the next nudge or the minute sweeper pushes it again;
- a listing the platform no longer takes (`ListingGone`) is dropped from the map (looked up
  again next time) and reported; other refusals are `ChannelRejected` with the fix.
Messages name the platform and store, never a token or secret.
"""

from __future__ import annotations

import copy
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.channels.stock_api import (
    ApiAnswer,
    ApiCall,
    BatchRefused,
    ListingGone,
    PlatformStock,
    StockLine,
)
from chalicelib.domain.errors import ChannelRejected, ChannelUnavailable, OrderHubError
from chalicelib.domain.listings import Listing, ListingMap, ListingUnmapped, needs_lookup
from chalicelib.domain.ports import Catalog, SecretSource, Store
from chalicelib.domain.rotation import effective_secret
from chalicelib.domain.timeutil import utc_now

DEFAULT_TIMEOUT = 3.0  # seconds per call: a slow platform must not eat the run's time
MAX_ATTEMPTS = 3
BACKOFF_BASE = 0.2
MAX_WAIT = 2.0


class RateGate:
    """Spaces calls per key (platform/store) at a rate, across the threads of one process."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def wait(self, key: str, per_second: float) -> None:
        with self._lock:
            now = self._clock()
            at = max(now, self._next.get(key, now))
            self._next[key] = at + 1.0 / per_second
        if at > now:
            self._sleep(at - now)

    def hold(self, key: str, seconds: float) -> None:
        """No call to `key` for `seconds` (the platform's own hint)."""
        if seconds <= 0:
            return
        with self._lock:
            self._next[key] = max(self._next.get(key, 0.0), self._clock() + seconds)


def exchange(opener: Callable[..., Any], call: ApiCall, url: str, timeout: float) -> ApiAnswer:
    request = urllib.request.Request(
        url, data=call.body or None, headers=dict(call.headers), method=call.method
    )
    try:
        with opener(request, timeout=timeout) as response:
            headers = {k.lower(): v for k, v in dict(response.headers or {}).items()}
            return ApiAnswer(int(getattr(response, "status", 200)), response.read(), headers)
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read() or b""
        except (OSError, AttributeError):
            body = b""
        headers = {k.lower(): v for k, v in dict(exc.headers or {}).items()}
        return ApiAnswer(exc.code, body, headers)


class PlatformStockPush:
    """One platform's stock pushes and listing lookups (module docstring)."""

    def __init__(
        self,
        api: PlatformStock,
        secrets: SecretSource,
        catalog: Catalog,
        listings: ListingMap,
        base_url: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        opener: Callable[..., Any] = urllib.request.urlopen,
        now: Callable[[], datetime] = utc_now,
        gate: RateGate | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.api = api
        self._secrets = secrets
        self._catalog = catalog
        self._listings = listings
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._open = opener
        self._now = now
        self._gate = gate or RateGate()
        self._sleep = sleep
        self._tokens: dict[str, tuple[str, float]] = {}

    # ---- StockPushClient ----------------------------------------------------------------

    def push(self, platform: str, store_id: str, sku: str, quantity: int) -> None:
        error = self.push_many(platform, store_id, [(sku, quantity)]).get(sku)
        if error is not None:
            raise error

    def push_many(
        self, platform: str, store_id: str, items: Sequence[tuple[str, int]]
    ) -> dict[str, OrderHubError | None]:
        store = self._store(platform, store_id)
        credentials = self._credentials(store)
        results: dict[str, OrderHubError | None] = {}
        lines: list[StockLine] = []
        for sku, quantity in items:
            listing = self._listing(store, credentials, sku)
            if listing is None or not listing.mapped:
                note = listing.note if listing is not None else "not looked up"
                results[sku] = ListingUnmapped(
                    f"{self._where(store)} lists no listing for SKU {sku} ({note}). Fix: give the "
                    f"listing the seller SKU / merchant code '{sku}' on {platform}, then "
                    f"POST /channels/{platform}/{store_id}/listings/refresh"
                )
                continue
            lines.append(StockLine(sku, quantity, listing.ids))
        if lines:
            results.update(self._send_lines(store, credentials, lines))
        return results

    def _send_lines(
        self, store: Store, credentials: dict[str, str], lines: Sequence[StockLine]
    ) -> dict[str, OrderHubError | None]:
        results: dict[str, OrderHubError | None] = {}
        for call, group in self.api.stock_calls(credentials, lines, self._now()):
            try:
                per = self.api.read_stock(self._send(store, credentials, call), group)
            except BatchRefused:
                per = {}
                for line in group:  # one by one: find the line the platform refuses
                    per.update(self._send_lines(store, credentials, [line]))
            except (ChannelUnavailable, ChannelRejected) as exc:
                per = {line.sku: self._named(store, exc) for line in group}
            for sku, outcome in per.items():
                if isinstance(outcome, ListingGone):
                    self._listings.put(
                        Listing(store.platform, store.store_id, sku, {}, None, "listing gone")
                    )
                results[sku] = None if outcome is None else self._named(store, outcome)
        return results

    # ---- ListingLookup ------------------------------------------------------------------

    def lookup(self, store: Store, sku: str) -> Listing | None:
        """The listing of `sku` in the store: searched by the SKU itself, or, for a store
        whose listings carry their own SKUs (`sku_mapping: table`), by each channel SKU
        the store's SKU map gives for it; two listings found is a conflict (None)."""
        credentials = self._credentials(store)
        names = [sku]
        channel_skus = getattr(self._catalog, "channel_skus", None)
        if store.rules.sku_mapping == "table" and callable(channel_skus):
            names = list(channel_skus(store.platform, store.store_id, sku))
        found: list[tuple[str, dict[str, str], str]] = []
        for name in names:
            try:
                ids, note = self.api.lookup(
                    lambda call: self._send(store, credentials, call),
                    credentials,
                    name,
                    self._now(),
                )
            except (ChannelUnavailable, ChannelRejected) as exc:
                raise self._named(store, exc) from None
            if ids is not None:
                found.append((name, ids, note))
        if len(found) != 1:
            return None
        name, ids, note = found[0]
        if name != sku:
            note = f"{note} (channel SKU {name})"
        return Listing(store.platform, store.store_id, sku, ids, self._now(), note)

    def session(self, store: Store) -> tuple[dict[str, str], Callable[[ApiCall], ApiAnswer]]:
        """The store's credentials and a sender with its rate limit, auth and retries: for the
        platform's other calls (the day's order list)."""
        credentials = self._credentials(store)
        return credentials, lambda call: self._send(store, credentials, call)

    # ---- internals ----------------------------------------------------------------------

    def _where(self, store: Store) -> str:
        return f"{store.platform} store {store.store_id}"

    def _named(self, store: Store, exc: OrderHubError) -> OrderHubError:
        if exc.message.startswith(self._where(store)):
            return exc
        named = copy.copy(exc)
        named.message = f"{self._where(store)} (secret {store.secret_name}): {exc.message}"
        named.args = (named.message,)
        return named

    def _store(self, platform: str, store_id: str) -> Store:
        store = self._catalog.get_store(platform, store_id)
        if store is None:
            raise ChannelRejected(f"{platform} store {store_id} is not in the catalog")
        return store

    def _credentials(self, store: Store) -> dict[str, str]:
        try:
            secret = effective_secret(self._secrets.get_secret(store.secret_name), self._now())
        except OrderHubError:
            raise
        except Exception as exc:  # missing or unreadable secret: a configuration problem
            raise ChannelUnavailable(
                f"{self._where(store)}: its secret {store.secret_name} could not be read ({exc})"
            ) from None
        try:
            return self.api.credentials(secret, store.store_id)
        except ChannelRejected as exc:
            raise self._named(store, exc) from None

    def _listing(self, store: Store, credentials: dict[str, str], sku: str) -> Listing | None:
        found = self._listings.get(store.platform, store.store_id, sku)
        if not needs_lookup(found, self._now()):
            return found
        looked = self.lookup(store, sku)
        listing = looked or Listing(
            store.platform, store.store_id, sku, {}, self._now(), "not listed"
        )
        self._listings.put(listing)
        return listing

    def _url(self, store: Store, credentials: Mapping[str, str], call: ApiCall) -> str:
        if call.path.startswith(("http://", "https://")):
            return call.path
        return self.api.base_url(credentials, self._base).rstrip("/") + call.path

    def _token(self, store: Store, credentials: dict[str, str]) -> None:
        key = f"{store.platform}/{store.store_id}"
        cached = self._tokens.get(key)
        if cached is None or cached[1] <= time.monotonic():
            answer = self._exchange(store, credentials, self.api.token_call(credentials))
            token, ttl = self.api.read_token(answer)
            cached = (token, time.monotonic() + max(60.0, ttl - 60.0))
            self._tokens[key] = cached
        credentials["access_token"] = cached[0]

    def _send(self, store: Store, credentials: dict[str, str], call: ApiCall) -> ApiAnswer:
        """One call with the store's rate, its hints, and retries of what may pass later."""
        if not self.api.needs_token or "lwa" in call.api:
            return self._exchange(store, credentials, call)
        self._token(store, credentials)
        answer = self._exchange(store, credentials, self._refresh_auth(call, credentials))
        if answer.status in (401, 403):  # the token expired or was revoked early: once more
            self._tokens.pop(f"{store.platform}/{store.store_id}", None)
            self._token(store, credentials)
            answer = self._exchange(store, credentials, self._refresh_auth(call, credentials))
        return answer

    def _refresh_auth(self, call: ApiCall, credentials: Mapping[str, str]) -> ApiCall:
        headers = dict(call.headers)
        for name in headers:
            if name.lower() == "x-amz-access-token":
                headers[name] = credentials["access_token"]
        return ApiCall(call.method, call.path, call.api, call.body, headers)

    def _exchange(self, store: Store, credentials: Mapping[str, str], call: ApiCall) -> ApiAnswer:
        key = f"{store.platform}/{store.store_id}"
        url = self._url(store, credentials, call)
        last = ""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._gate.wait(key, self.api.rate_per_second)
            try:
                answer = exchange(self._open, call, url, self._timeout)
            except (urllib.error.URLError, OSError) as exc:  # refused, DNS, timeout
                last = f"unreachable: {getattr(exc, 'reason', exc)}"
                self._backoff(attempt, None)
                continue
            self._gate.hold(key, self.api.pause_after(answer))
            if answer.status == 429 or answer.status >= 500:
                last = f"answered {answer.status}"
                hint = answer.headers.get("retry-after")
                self._backoff(
                    attempt, float(hint) if hint and hint.replace(".", "", 1).isdigit() else None
                )
                continue
            if self.api.throttled(answer):  # said inside a 200 (Shopify's GraphQL)
                last = "throttled"
                self._backoff(attempt, self.api.pause_after(answer))
                continue
            return answer
        raise ChannelUnavailable(
            f"{self._where(store)}: {call.api} {last} after {MAX_ATTEMPTS} attempts; it stays "
            "pending and is pushed again by the next run"
        )

    def _backoff(self, attempt: int, hint: float | None) -> None:
        if attempt >= MAX_ATTEMPTS:
            return
        wait = hint if hint is not None else BACKOFF_BASE * 2 ** (attempt - 1)
        self._sleep(min(MAX_WAIT, max(0.0, wait)))


def build_platform_stock_clients(
    secrets: SecretSource,
    catalog: Catalog,
    listings: ListingMap,
    urls: Mapping[str, str],
    shopify_version: str,
    amazon_lwa_url: str,
    now: Callable[[], datetime] = utc_now,
) -> dict[str, PlatformStockPush]:
    """Every marketplace's adapter, keyed by platform; `urls` gives each platform's base URL
    ("" for Shopify and WooCommerce: the store's own domain / site_url)."""
    from chalicelib.channels.amazon_stock import AmazonStock
    from chalicelib.channels.bigcommerce_stock import BigCommerceStock
    from chalicelib.channels.douyin_stock import DouyinStock
    from chalicelib.channels.router_stock import JdStock, PinduoduoStock, TaobaoStock
    from chalicelib.channels.shopify_stock import ShopifyStock
    from chalicelib.channels.tiktok_stock import TikTokStock
    from chalicelib.channels.woocommerce_stock import WooCommerceStock

    gate = RateGate()
    apis: list[PlatformStock] = [
        ShopifyStock(shopify_version),
        WooCommerceStock(),
        BigCommerceStock(),
        TikTokStock(),
        DouyinStock(),
        TaobaoStock(),
        JdStock(),
        PinduoduoStock(),
        AmazonStock(amazon_lwa_url),
    ]
    return {
        api.platform: PlatformStockPush(
            api, secrets, catalog, listings, urls.get(api.platform, ""), now=now, gate=gate
        )
        for api in apis
    }
