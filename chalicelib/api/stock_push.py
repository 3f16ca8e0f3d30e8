"""Stock pushes to the sales channels, from the outbox, every minute."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Blueprint

from chalicelib.deps import container
from chalicelib.domain.stock_push import push_stock_changes
from chalicelib.observability import logger, metrics

bp = Blueprint(__name__)

MAX_SKUS_PER_RUN = 200
TIME_RESERVE_MS = 2500  # no new SKU when less is left (function timeout: .chalice/config.json)


@bp.schedule("rate(1 minute)")
def push_stock(event: Any) -> dict[str, Any]:
    """Every SKU whose stock changed since its last push: one push per channel, LimitedSale /
    LimitedSaleLifted on the inventory bus when it crosses its safety stock."""
    deps = container()
    summary = push_stock_changes(
        deps.orders,
        deps.catalog.list_stores(),
        deps.channel_push,
        deps.inventory_events,
        deps.now,
        max_skus=MAX_SKUS_PER_RUN,
        has_time=_time_left(getattr(event, "context", None)),
    )
    collected = metrics()
    collected.add_metric(name="StockPushes", unit="Count", value=summary.pushed)
    collected.add_metric(name="StockPushRetries", unit="Count", value=len(summary.retry_later))
    collected.add_metric(name="StockPushRejected", unit="Count", value=len(summary.rejected))
    collected.add_metric(
        name="StockPushSkusPending", unit="Count", value=len(summary.still_pending)
    )
    collected.add_metric(name="LimitedSaleEvents", unit="Count", value=len(summary.events))
    result = summary.to_dict()
    if summary.errors or summary.retry_later or summary.rejected or summary.still_pending:
        logger().warning("stock push incomplete", extra=result)
    else:
        logger().info("stock pushed", extra=result)
    return result


def _time_left(context: Any) -> Callable[[], bool]:
    """Whether to start another SKU before Lambda's timeout."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining) or remaining() <= 0:  # no deadline known (a test client)
        return lambda: True
    return lambda: remaining() > TIME_RESERVE_MS
