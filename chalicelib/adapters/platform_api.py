"""Platforms' order APIs: where thin events get their details (domain/details.py's port).

`BigCommerceOrderApi` reads `GET {base}/stores/{store_hash}/v2/orders/{id}` and its
`/products` (paged, 250 a page) with the store's `X-Auth-Token`; the base URL is
`ORDERHUB_BIGCOMMERCE_API_URL` (default `https://api.bigcommerce.com`; the stub platform
locally). HTTP answers become domain errors here, so nothing from urllib leaks upward:

- 404: the order does not exist on BigCommerce → `OrderNotOnPlatform` (permanent: the event
  is recorded `rejected_invalid` with the reason; nothing is booked);
- 401/403: BigCommerce refused our access token → `OrderDetailsUnavailable` telling ops to fix
  the store's secret (retried with backoff, so the event books once it is fixed, or waits in
  the DLQ for a replay);
- 429, 5xx, other answers, timeouts, refused connections, unreadable bodies →
  `OrderDetailsUnavailable` (retried with backoff, then the DLQ).

`TikTokOrderApi` (Get Order Detail 202309, channels/tiktok_api.py) and `DouyinOrderApi`
(order.orderDetail, channels/douyin_api.py) sign each call with the store's current app
secret (`effective_secret`: the newest during a rotation) and map answers the same way:
the order absent from a successful answer → `OrderNotOnPlatform`; 401/403 or a refusal in
the platform's envelope (TikTok `code` ≠ 0, Douyin `code` ≠ 10000: expired token, bad
signature, missing scope, ...) → `OrderDetailsUnavailable` quoting the platform's code and
message and naming the secret's fields to check; 404 (no such API path: the base URL is
wrong), 429, 5xx, timeouts, unreadable answers → `OrderDetailsUnavailable`. A business error
the platform gives in its envelope is retried rather than rejected: a wrong permanent
rejection would lose the order, while a lasting one waits in the DLQ for a replay.
Messages never include the access token or the secret (the platform's text is scrubbed).
Base URLs: `ORDERHUB_TIKTOK_API_URL`, `ORDERHUB_DOUYIN_API_URL` (the stub platform locally).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.channels import douyin_api, tiktok_api
from chalicelib.channels.bigcommerce import PLATFORM as BIGCOMMERCE
from chalicelib.channels.bigcommerce import (
    ApiCredentials,
    api_credentials,
    parse_bigcommerce_order,
)
from chalicelib.domain.details import (
    OrderDetailRouter,
    OrderDetails,
    OrderDetailSource,
    OrderDetailsUnavailable,
    OrderNotOnPlatform,
)
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.ports import SecretSource, Store
from chalicelib.domain.rotation import effective_secret
from chalicelib.domain.timeutil import utc_now
from chalicelib.settings import (
    DEFAULT_BIGCOMMERCE_API_URL,
    DEFAULT_DOUYIN_API_URL,
    DEFAULT_TIKTOK_API_URL,
)

DEFAULT_TIMEOUT = 3.0  # seconds per request: up to 20 records share one processor invocation
PAGE_SIZE = 250  # BigCommerce v2's largest page
MAX_PAGES = 2  # 500 lines, the most a canonical event carries
# the most calls one thin event's fetch makes (BigCommerce: the order and its product pages);
# the processor's Lambda timeout covers a batch of them (tests/integration/test_timeouts.py)
MAX_CALLS_PER_FETCH = 1 + MAX_PAGES


class BigCommerceOrderApi:
    """BigCommerce's v2 Orders API, per store (its hash and token from Secrets Manager)."""

    def __init__(
        self,
        secrets: SecretSource,
        base_url: str = DEFAULT_BIGCOMMERCE_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        opener: Callable[..., Any] = urllib.request.urlopen,
    ) -> None:
        self._secrets = secrets
        self._base = (base_url or DEFAULT_BIGCOMMERCE_API_URL).rstrip("/")
        self._timeout = timeout
        self._open = opener

    def fetch(self, store: Store, order_id: str) -> OrderDetails:
        # the access token does not rotate with the client secret: read as stored
        credentials = api_credentials(self._secrets.get_secret(store.secret_name))
        path = f"/v2/orders/{quote(order_id, safe='')}"
        order = self._get(store, credentials, path, order_id)
        products: list[Any] = []
        for page in range(1, MAX_PAGES + 1):
            query = f"?limit={PAGE_SIZE}&page={page}"
            batch = self._get(store, credentials, f"{path}/products{query}", order_id)
            if batch is None:  # 204: no (more) products
                break
            if not isinstance(batch, list):
                raise self._unreadable(store, order_id, "the products are not a JSON array")
            products.extend(batch)
            if len(batch) < PAGE_SIZE:
                break
        try:
            return parse_bigcommerce_order(order_id, order, products)
        except InvalidPayload as exc:
            raise self._unreadable(store, order_id, exc.message) from None

    def _get(self, store: Store, credentials: ApiCredentials, path: str, order_id: str) -> Any:
        """The JSON of one GET (None for 204 No Content), or the domain error it means."""
        url = f"{self._base}/stores/{quote(credentials.store_hash, safe='')}{path}"
        request = urllib.request.Request(
            url,
            headers={"X-Auth-Token": credentials.access_token, "Accept": "application/json"},
            method="GET",
        )
        where = f"BigCommerce store {store.store_id} (hash {credentials.store_hash})"
        try:
            with self._open(request, timeout=self._timeout) as response:
                status = int(getattr(response, "status", 200))
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise self._refusal(exc.code, where, store, order_id) from None
        except (urllib.error.URLError, OSError) as exc:  # refused, DNS, timeout
            why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise OrderDetailsUnavailable(
                f"{where} unreachable fetching order {order_id}: {why}; retrying"
            ) from None
        if status == 204 or not raw:
            return None
        try:
            return json.loads(raw, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise self._unreadable(store, order_id, "the answer is not JSON") from None

    def _refusal(self, code: int, where: str, store: Store, order_id: str) -> Exception:
        if code == 404:
            return OrderNotOnPlatform(
                f"order {order_id} does not exist on {where} (BigCommerce answered 404); "
                "nothing was booked. If the order is real, check the store's store_hash"
            )
        if code in (401, 403):
            return OrderDetailsUnavailable(
                f"{where} refused OrderHub's access token ({code}) fetching order {order_id}: "
                f"fix access_token/store_hash in secret {store.secret_name} (the API account "
                "needs the Orders read-only scope); the event is retried, then kept in the DLQ"
            )
        if code == 429:
            return OrderDetailsUnavailable(
                f"{where} rate-limited OrderHub (429) fetching order {order_id}; retrying"
            )
        return OrderDetailsUnavailable(
            f"{where} answered {code} fetching order {order_id}; retrying"
        )

    @staticmethod
    def _unreadable(store: Store, order_id: str, why: str) -> OrderDetailsUnavailable:
        return OrderDetailsUnavailable(
            f"BigCommerce's answer for order {order_id} of store {store.store_id} is not one "
            f"OrderHub can read: {why}; retrying (a lasting one ends in the DLQ)"
        )


def _exchange(
    opener: Callable[..., Any], request: urllib.request.Request, timeout: float
) -> tuple[int, bytes]:
    """(HTTP status, body) of one request, error statuses included; network failures raise."""
    try:
        with opener(request, timeout=timeout) as response:
            return int(getattr(response, "status", 200)), response.read()
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read()
        except (OSError, AttributeError):
            body = b""
        return exc.code, body or b""


def _scrub(words: str, *secrets: str) -> str:
    """The platform's text, shortened, with our secrets masked should it echo them."""
    for secret in secrets:
        if secret:
            words = words.replace(secret, "***")
    return words if len(words) <= 200 else words[:200] + "..."


class _AppSignedOrderApi:
    """What TikTok Shop's and Douyin's order APIs share: a signed call, answers mapped to
    domain errors (module docstring)."""

    platform_name = ""
    secret_fields = ""
    base_url_setting = ""

    def __init__(
        self,
        secrets: SecretSource,
        base_url: str,
        timeout: float = DEFAULT_TIMEOUT,
        opener: Callable[..., Any] = urllib.request.urlopen,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._secrets = secrets
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._open = opener
        self._now = now

    def _secret(self, store: Store) -> Mapping[str, Any]:
        # the app secret may be mid-rotation; the credentials readers sign with the newest
        return effective_secret(self._secrets.get_secret(store.secret_name), self._now())

    def _where(self, store: Store) -> str:
        return f"{self.platform_name} store {store.store_id}"

    def _call(
        self, request: urllib.request.Request, store: Store, order_id: str, hide: tuple[str, ...]
    ) -> Any:
        """The JSON of the answer (HTTP 200), or the domain error its status means."""
        where = self._where(store)
        try:
            status, raw = _exchange(self._open, request, self._timeout)
        except (urllib.error.URLError, OSError) as exc:  # refused, DNS, timeout
            why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise OrderDetailsUnavailable(
                f"{where} unreachable fetching order {order_id}: {why}; retrying"
            ) from None
        if status != 200:
            raise self._http_refusal(status, raw, store, order_id, hide)
        try:
            return json.loads(raw, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError):
            raise self._unreadable(store, order_id, "the answer is not JSON") from None

    def _http_refusal(
        self, status: int, raw: bytes, store: Store, order_id: str, hide: tuple[str, ...]
    ) -> OrderDetailsUnavailable:
        where = self._where(store)
        said = _scrub(raw.decode("utf-8", "replace").strip(), *hide)
        said = f": {said}" if said else ""
        if status in (401, 403):
            return OrderDetailsUnavailable(
                f"{where} refused OrderHub's credentials ({status}{said}) fetching order "
                f"{order_id}: check {self.secret_fields} in secret {store.secret_name}; the "
                "event is retried, then kept in the DLQ"
            )
        if status == 404:
            return OrderDetailsUnavailable(
                f"{where} has no such API (404) fetching order {order_id}: check "
                f"{self.base_url_setting}; retrying"
            )
        if status == 429:
            return OrderDetailsUnavailable(
                f"{where} rate-limited OrderHub (429) fetching order {order_id}; retrying"
            )
        return OrderDetailsUnavailable(
            f"{where} answered {status} fetching order {order_id}; retrying"
        )

    def _envelope_refusal(
        self, refusal: str, store: Store, order_id: str, hide: tuple[str, ...]
    ) -> OrderDetailsUnavailable:
        return OrderDetailsUnavailable(
            f"{self._where(store)} refused to give order {order_id} "
            f"({_scrub(refusal, *hide)}): if it names the access token, signature, app or "
            f"scope, fix {self.secret_fields} in secret {store.secret_name} (the app needs "
            "order read permission); retrying (a lasting one ends in the DLQ)"
        )

    def _not_found(self, store: Store, order_id: str) -> OrderNotOnPlatform:
        return OrderNotOnPlatform(
            f"order {order_id} does not exist on {self._where(store)} ({self.platform_name} "
            "lists no such order); nothing was booked. If the order is real, check that the "
            "store's credentials are for the shop that sent the webhook"
        )

    def _unreadable(self, store: Store, order_id: str, why: str) -> OrderDetailsUnavailable:
        return OrderDetailsUnavailable(
            f"{self.platform_name}'s answer for order {order_id} of store {store.store_id} is "
            f"not one OrderHub can read: {why}; retrying (a lasting one ends in the DLQ)"
        )


class TikTokOrderApi(_AppSignedOrderApi):
    """TikTok Shop's Get Order Detail (202309), per store (credentials from Secrets Manager)."""

    platform_name = "TikTok Shop"
    secret_fields = tiktok_api.SECRET_FIELDS
    base_url_setting = "ORDERHUB_TIKTOK_API_URL"

    def __init__(
        self,
        secrets: SecretSource,
        base_url: str = DEFAULT_TIKTOK_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        opener: Callable[..., Any] = urllib.request.urlopen,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(secrets, base_url or DEFAULT_TIKTOK_API_URL, timeout, opener, now)

    def fetch(self, store: Store, order_id: str) -> OrderDetails:
        credentials = tiktok_api.tiktok_api_credentials(self._secret(store))
        hide = (credentials.access_token, credentials.app_secret)
        query = tiktok_api.order_detail_query(order_id, credentials, self._now())
        request = urllib.request.Request(
            f"{self._base}{tiktok_api.ORDER_DETAIL_PATH}?{urlencode(query)}",
            headers={
                tiktok_api.ACCESS_TOKEN_HEADER: credentials.access_token,
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            method="GET",
        )
        answer = self._call(request, store, order_id, hide)
        try:
            refusal = tiktok_api.tiktok_refusal(answer)
            if refusal is not None:
                raise self._envelope_refusal(refusal, store, order_id, hide)
            details = tiktok_api.parse_tiktok_answer(order_id, answer)
        except InvalidPayload as exc:
            raise self._unreadable(store, order_id, exc.message) from None
        if details is None:
            raise self._not_found(store, order_id)
        return details


class DouyinOrderApi(_AppSignedOrderApi):
    """Douyin Shop's order.orderDetail, per store (credentials from Secrets Manager)."""

    platform_name = "Douyin"
    secret_fields = douyin_api.SECRET_FIELDS
    base_url_setting = "ORDERHUB_DOUYIN_API_URL"

    def __init__(
        self,
        secrets: SecretSource,
        base_url: str = DEFAULT_DOUYIN_API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        opener: Callable[..., Any] = urllib.request.urlopen,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__(secrets, base_url or DEFAULT_DOUYIN_API_URL, timeout, opener, now)

    def fetch(self, store: Store, order_id: str) -> OrderDetails:
        credentials = douyin_api.douyin_api_credentials(self._secret(store))
        hide = (credentials.access_token, credentials.app_secret)
        query, body = douyin_api.order_detail_request(order_id, credentials, self._now())
        request = urllib.request.Request(
            f"{self._base}{douyin_api.ORDER_DETAIL_PATH}?{urlencode(query)}",
            data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        answer = self._call(request, store, order_id, hide)
        try:
            refusal = douyin_api.douyin_refusal(answer)
            if refusal is not None:
                raise self._envelope_refusal(refusal, store, order_id, hide)
            details = douyin_api.parse_douyin_answer(order_id, answer)
        except InvalidPayload as exc:
            raise self._unreadable(store, order_id, exc.message) from None
        if details is None:
            raise self._not_found(store, order_id)
        return details


def build_order_detail_router(
    secrets: SecretSource,
    bigcommerce_api_url: str = DEFAULT_BIGCOMMERCE_API_URL,
    tiktok_api_url: str = DEFAULT_TIKTOK_API_URL,
    douyin_api_url: str = DEFAULT_DOUYIN_API_URL,
    now: Callable[[], datetime] = utc_now,
    amazon: OrderDetailSource | None = None,
) -> OrderDetailRouter:
    """Each platform whose thin events are fetched before booking: BigCommerce, TikTok Shop
    and Douyin, and Amazon when its source is given (adapters/amazon_orders.py). `now` times
    (and picks the secret of) the signed TikTok and Douyin calls."""
    sources: dict[str, OrderDetailSource] = {
        BIGCOMMERCE: BigCommerceOrderApi(secrets, bigcommerce_api_url),
        tiktok_api.PLATFORM: TikTokOrderApi(secrets, tiktok_api_url, now=now),
        douyin_api.PLATFORM: DouyinOrderApi(secrets, douyin_api_url, now=now),
    }
    if amazon is not None:
        sources["amazon"] = amazon
    return OrderDetailRouter(sources)
