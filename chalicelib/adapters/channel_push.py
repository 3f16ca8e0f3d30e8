"""Stock pushes to sales channels: one `StockPushClient` per platform, behind a router.

`HttpStockPushClient` speaks OrderHub's generic JSON shape (`POST {base}/stock/{platform}/
{store}` with `{"sku", "quantity", "store", "platform"}`): for a seller's own shop (`mall`).
Each marketplace's inventory API has its own adapter (adapters/platform_stock.py: Shopify,
WooCommerce, BigCommerce, TikTok Shop, Douyin, Taobao, JD, Pinduoduo, Amazon), registered
for its platform in `build_stock_push_client`.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from chalicelib.domain.errors import ChannelRejected, ChannelUnavailable
from chalicelib.domain.ports import StockPushClient

DEFAULT_TIMEOUT = 3.0  # seconds per push: a slow channel must not eat the run's time
RETRYABLE_4XX = frozenset({408, 409, 423, 425, 429})


class HttpStockPushClient:
    """Generic JSON stock push over HTTP(S)."""

    def __init__(
        self,
        base_url: str,
        timeout: float = DEFAULT_TIMEOUT,
        opener: Callable[..., Any] = urllib.request.urlopen,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._open = opener

    def push(self, platform: str, store_id: str, sku: str, quantity: int) -> None:
        url = f"{self._base}/stock/{quote(platform, safe='')}/{quote(store_id, safe='')}"
        body = {"sku": sku, "quantity": quantity, "store": store_id, "platform": platform}
        request = urllib.request.Request(
            url,
            data=json.dumps(body).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with self._open(request, timeout=self._timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            reason = f"{platform}/{store_id} answered {exc.code}"
            if 400 <= exc.code < 500 and exc.code not in RETRYABLE_4XX:
                raise ChannelRejected(reason) from None
            raise ChannelUnavailable(reason) from None
        except (urllib.error.URLError, OSError) as exc:  # refused, DNS, timeout
            why = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            raise ChannelUnavailable(f"{platform}/{store_id} unreachable: {why}") from None


class StockPushRouter:
    """Routes each push to its platform's adapter, else to the default one (if any)."""

    def __init__(
        self,
        adapters: Mapping[str, StockPushClient],
        default: StockPushClient | None = None,
        listings: Any = None,
    ) -> None:
        self._adapters = dict(adapters)
        self._default = default
        self._listings = listings  # the platform adapters' listing map (`preloaded`)

    @contextlib.contextmanager
    def run(self, pushes: Iterable[tuple[str, str, str]]) -> Iterator[None]:
        """A push run's (platform, store, SKU)s: the listings the platform adapters will
        look up are read in one request up front (adapters/listings.py `preloaded`)."""
        preload = getattr(self._listings, "preloaded", None)
        keys = [key for key in pushes if key[0] in self._adapters]
        if not callable(preload) or not keys:
            yield
            return
        with preload(keys):
            yield

    def push(self, platform: str, store_id: str, sku: str, quantity: int) -> None:
        adapter = self._adapters.get(platform, self._default)
        if adapter is None:
            raise ChannelUnavailable(
                f"no stock push adapter for platform '{platform}' "
                "(set ORDERHUB_CHANNEL_API_URL or add the platform's adapter)"
            )
        adapter.push(platform, store_id, sku, quantity)

    def push_many(
        self, platform: str, store_id: str, items: Sequence[tuple[str, int]]
    ) -> dict[str, Exception | None]:
        """One channel's SKUs at once: the platform adapter batches them where its API
        allows; an adapter without batches is called once per SKU."""
        adapter = self._adapters.get(platform, self._default)
        many = getattr(adapter, "push_many", None)
        if callable(many):
            return dict(many(platform, store_id, items))
        results: dict[str, Exception | None] = {}
        for sku, quantity in items:
            try:
                self.push(platform, store_id, sku, quantity)
                results[sku] = None
            except (ChannelUnavailable, ChannelRejected) as exc:
                results[sku] = exc
        return results


def build_stock_push_client(
    base_url: str, platforms: Mapping[str, StockPushClient] | None = None, listings: Any = None
) -> StockPushRouter:
    """Each marketplace through its own adapter (`platforms`, whose listing map is
    `listings`); the rest (own shops) through the generic JSON endpoint at `base_url`, if
    one is set."""
    default = HttpStockPushClient(base_url) if base_url else None
    return StockPushRouter(platforms or {}, default, listings)
