"""The platforms' own day lists as reconciliation statements (`reconcile.StatementSource`):
each marketplace's order list by creation time over the Beijing day (chalicelib/channels/
orders_day.py, orders_day_signed.py), sent through the platform's stock adapter (its
credentials, LWA token, rate limit and retries). A statement file in S3 still wins
(adapters/statements.py `StatementRouter`); JD keeps its own (`JdStatement`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime

from chalicelib.adapters.platform_stock import PlatformStockPush
from chalicelib.channels.amazon_stock import AmazonStock
from chalicelib.channels.douyin_stock import DouyinStock
from chalicelib.channels.orders_day import (
    AmazonDay,
    BigCommerceDay,
    DayList,
    ShopifyDay,
    WooCommerceDay,
)
from chalicelib.channels.orders_day_signed import DouyinDay, PinduoduoDay, TaobaoDay, TikTokDay
from chalicelib.channels.router_stock import PinduoduoStock, TaobaoStock
from chalicelib.channels.shopify_stock import ShopifyStock
from chalicelib.channels.tiktok_stock import TikTokStock
from chalicelib.domain.errors import OrderHubError
from chalicelib.domain.ports import Store
from chalicelib.domain.reconcile import (
    LedgerRow,
    Problems,
    Statement,
    StatementUnreadable,
    day_window,
)


class PlatformDayStatement:
    def __init__(
        self, adapter: PlatformStockPush, day_list: DayList, now: Callable[[], datetime]
    ) -> None:
        self._adapter = adapter
        self._list = day_list
        self._now = now

    def statement(self, store: Store, day: date) -> Statement:
        try:
            credentials, send = self._adapter.session(store)
        except OrderHubError as exc:
            raise StatementUnreadable(
                f"{store.platform} store {store.store_id}: {exc.message}"
            ) from None
        start, end = day_window(day)
        problems = Problems()
        rows: Iterator[LedgerRow] = self._list.rows(
            send, credentials, start, end, self._now(), problems
        )
        return Statement(f"{self._list.source} for {day.isoformat()}", rows, problems)


def day_list_sources(
    adapters: Mapping[str, PlatformStockPush], now: Callable[[], datetime]
) -> dict[str, PlatformDayStatement]:
    """A statement source per marketplace with an order-list API (JD: JdStatement)."""
    lists: dict[str, DayList] = {}
    for platform, adapter in adapters.items():
        api = adapter.api
        if isinstance(api, ShopifyStock):
            lists[platform] = ShopifyDay(api)
        elif isinstance(api, AmazonStock):
            lists[platform] = AmazonDay(api.marketplace)
        elif isinstance(api, TikTokStock):
            lists[platform] = TikTokDay(api)
        elif isinstance(api, DouyinStock):
            lists[platform] = DouyinDay(api)
        elif isinstance(api, TaobaoStock):
            lists[platform] = TaobaoDay(api)
        elif isinstance(api, PinduoduoStock):
            lists[platform] = PinduoduoDay(api)
        elif platform == "woocommerce":
            lists[platform] = WooCommerceDay()
        elif platform == "bigcommerce":
            lists[platform] = BigCommerceDay()
    return {p: PlatformDayStatement(adapters[p], day_list, now) for p, day_list in lists.items()}
