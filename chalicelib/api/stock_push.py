"""Stock pushes to the sales channels: within seconds of a change (`handle_stock_nudges`),
and from the outbox every minute (`push_stock`, the sweeper); the listing map's refresh."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Blueprint

from chalicelib.api.http import api_errors, json_response
from chalicelib.deps import container
from chalicelib.domain.errors import NotFound
from chalicelib.domain.listings import refresh_listings as refresh_listings_run
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
        warehouses=list(deps.warehouses()),  # every SKU's state in one read
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


NUDGE_QUEUE = "orderhub-stock-nudges.fifo"  # FIFO: one SKU's nudges one at a time


@bp.on_sqs_message(queue=NUDGE_QUEUE, batch_size=10)
def handle_stock_nudges(event: Any) -> dict[str, Any]:
    """A stock change, within seconds: push the SKUs the nudges name (coalesced per SKU).
    A failed push stays pending for the minute sweeper; the batch itself never fails."""
    from chalicelib.adapters.push_reads import push_run_reads
    from chalicelib.adapters.stock_nudge import nudged_skus  # pynamodb: this function's only

    deps = container()
    skus = nudged_skus(event)
    stores = deps.catalog.list_stores()
    warehouses = list(deps.warehouses())
    # the SKUs' states and their listings in the marketplace stores: one read for both
    listed = [(s.platform, s.store_id, sku) for sku in skus for s in stores]
    listed = [key for key in listed if key[0] in deps.platform_stock]
    with push_run_reads(
        deps.dynamodb, deps.orders, deps.listings, skus, warehouses, listed
    ) as states:
        summary = push_stock_changes(
            deps.orders,
            stores,
            deps.channel_push,
            deps.inventory_events,
            deps.now,
            has_time=_time_left(getattr(event, "context", None)),
            skus=skus,
            warehouses=warehouses,  # (without `states`: every SKU's state in one read)
            states=states,
        )
    collected = metrics()
    collected.add_metric(name="StockPushes", unit="Count", value=summary.pushed)
    collected.add_metric(name="StockPushRetries", unit="Count", value=len(summary.retry_later))
    collected.add_metric(name="StockPushRejected", unit="Count", value=len(summary.rejected))
    collected.add_metric(name="LimitedSaleEvents", unit="Count", value=len(summary.events))
    result = summary.to_dict()
    if summary.errors or summary.retry_later or summary.rejected or summary.still_pending:
        logger().warning("stock nudge incomplete (the sweeper retries)", extra=result)
    return {"batchItemFailures": [], "summary": result}


@bp.schedule("rate(6 hours)")
def refresh_listings(event: Any) -> dict[str, Any]:
    """The listing map from each store's catalog: every SKU looked up by seller SKU; an
    unmapped one opens a P2 `listing_unmapped` anomaly for that store."""
    return refresh_listing_map(None, None, _time_left(getattr(event, "context", None)))


def refresh_listing_map(
    platform: str | None, store_id: str | None, has_time: Callable[[], bool] = lambda: True
) -> dict[str, Any]:
    """One store's map (or every store's, given None): the scheduled refresh and the API's."""
    deps = container()
    stores = [
        s
        for s in deps.catalog.list_stores()
        if (platform is None or s.platform == platform)
        and (store_id is None or s.store_id == store_id)
    ]
    skus = {level.sku for level in deps.orders.all_stock()}
    summary = refresh_listings_run(
        stores,
        skus,
        deps.platform_stock,
        deps.listings,
        deps.orders.open_anomaly,
        deps.now,
        has_time,
    )
    metrics().add_metric(name="ListingsUnmapped", unit="Count", value=len(summary.unmapped))
    return summary.to_dict()


def _store_or_404(platform: str, store_id: str) -> None:
    if container().catalog.get_store(platform, store_id) is None:
        raise NotFound(f"no store '{store_id}' on platform '{platform}' in the catalog")
    if platform not in container().platform_stock:
        raise NotFound(
            f"platform '{platform}' has no listing map: its stock goes to the generic endpoint"
        )


@bp.route("/channels/{platform}/{store}/listings", methods=["GET"])
@api_errors
def handle_list_listings(platform: str, store: str) -> Any:
    """The store's listing map: where each SKU is listed, or why it is not."""
    _store_or_404(platform, store)
    found = sorted(container().listings.for_store(platform, store), key=lambda x: x.sku)
    return json_response(
        {"platform": platform, "store": store, "listings": [x.to_dict() for x in found]}
    )


@bp.route("/channels/{platform}/{store}/listings/refresh", methods=["POST"])
@api_errors
def handle_refresh_listings(platform: str, store: str) -> Any:
    """Look every SKU up in the store's catalog now (after fixing a listing's SKU)."""
    _store_or_404(platform, store)
    return json_response(refresh_listing_map(platform, store))
