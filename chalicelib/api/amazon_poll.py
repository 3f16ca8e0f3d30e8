"""The backup poll of Amazon orders, every 5 minutes: orders whose ORDER_CHANGE notification
never came (Amazon recommends it; notifications are best-effort) are found and booked.

Per Amazon store (`run_pollers`, as the pull platforms: one store's failure never stops the
others; outcomes in the summary, metric `PullStoreFailures` and alarm
`orderhub-pull-store-failures` for credentials or refused requests): read getOrders for the
seller-fulfilled orders updated in the windows after the store's cursor
(`poll-cursors`, id `amazon#<SellerId>`; domain/polling.py `poll_increments`), skip the
versions OrderHub already holds, queue the rest as thin events (key = order id, status and
`LastUpdateDate`: channels/amazon_orders.py), then advance the cursor. The processor fetches
each queued order's details as it does a notification's, so both paths book the same
order; a notification and a poll of one order version book once.

Windows: `LastUpdatedAfter` = cursor − 1 minute of overlap (cheap: a re-read version is
skipped or a duplicate key), `LastUpdatedBefore` ≥ 3 minutes behind the clock (Amazon
refuses less than 2), at most 1 hour a window and 3 windows a run, so the poll's getOrders
calls stay within Amazon's 1 a minute with a burst of 20 (a store far behind catches up
over several runs; a 429 is a `retry_later`, the cursor unmoved). Pages are read in
Amazon's `NextToken` order (it allows no other); an order updated while the pages are read
gets a `LastUpdateDate` after the window's end, which is in the past, so a later window
lists it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalice import Blueprint, Rate

from chalicelib.adapters.amazon_orders import AmazonRecentOrders
from chalicelib.api.pollers import IntakeSink, _remaining_ms, run_pollers
from chalicelib.channels.amazon_orders import PLATFORM
from chalicelib.deps import Container, container
from chalicelib.domain.model import order_key
from chalicelib.domain.polling import (
    IncrementalResult,
    WindowPolicy,
    cursor_id,
    poll_increments,
)
from chalicelib.domain.ports import Store
from chalicelib.observability import metrics

bp = Blueprint(__name__)

AMAZON_WINDOWS = WindowPolicy(
    settle_lag=timedelta(minutes=3),
    max_window=timedelta(hours=1),
    overlap=timedelta(minutes=1),
    initial_lookback=timedelta(hours=1),
    max_windows=3,
)


def held_version(deps: Container, store: Store) -> Callable[[str, datetime], bool]:
    """`known(order_id, updated_at)`: OrderHub holds the order at that version or later."""

    def known(order_id: str, updated_at: datetime) -> bool:
        order = deps.orders.get_order(order_key(PLATFORM, store.store_id, order_id))
        return order is not None and order.updated_at >= updated_at

    return known


def poll_amazon_store(deps: Container, store: Store, result: IncrementalResult) -> None:
    source = AmazonRecentOrders(
        deps.secrets, deps.sp_api, store, held_version(deps, store), deps.now
    )
    try:
        poll_increments(
            cursor_id(PLATFORM, store.store_id),
            deps.poll_cursors,
            source,
            IntakeSink(deps, store),
            deps.now(),
            AMAZON_WINDOWS,
            result,
        )
    finally:
        metrics().add_metric(name="AmazonPollKnownSkipped", unit="Count", value=source.skipped)


@bp.schedule(Rate(5, unit=Rate.MINUTES))
def poll_amazon(event: Any) -> dict[str, Any]:
    """Amazon: recently updated seller-fulfilled orders after each store's cursor."""
    return run_pollers(
        container(), PLATFORM, poll_amazon_store, IncrementalResult, lambda: _remaining_ms(event)
    )
