"""The JSON routes the console's screens need (every one also a public API route):
order search, the buyer view, the stock list, stock policy, warehouses, the board and `/me`.

Reads go through indexes only (adapters/order_search.py, the `placed_day` and trail
`store_day` indexes); writes are audited. Amounts appear only for a caller holding
`read_payments` (`include=amounts`, checked by the middleware: api/access.py
QUERY_PERMISSIONS).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.adapters.deferred import DeferredModule
from chalicelib.api.access import audit, principal_of
from chalicelib.api.http import api_errors, json_response
from chalicelib.deps import Container, container
from chalicelib.domain.audit import Action
from chalicelib.domain.blind_index import valid_index
from chalicelib.domain.errors import InvalidPayload, NotFound
from chalicelib.domain.kpis import kpi_day
from chalicelib.domain.permissions import Permission, permissions_of

if TYPE_CHECKING:
    from chalicelib.domain import board, order_search, stock_list
else:  # the console's own modules come with its first call (adapters/deferred.py)
    board = DeferredModule("chalicelib.domain.board")
    order_search = DeferredModule("chalicelib.domain.order_search")
    stock_list = DeferredModule("chalicelib.domain.stock_list")

bp = Blueprint(__name__)

QUERY_THREADS = 8  # the board's index queries in parallel (one per store and day)
BUYER_ORDERS_MAX = 200  # a buyer's orders read for the view (newest first)
NO_STORE = {"Cache-Control": "no-store"}


def _params() -> dict[str, str]:
    return dict(bp.current_request.query_params or {})


def _json_body() -> Any:
    raw = bp.current_request.raw_body or b""
    try:
        return json.loads(raw or b"{}")
    except ValueError as exc:
        raise InvalidPayload(f"body is not valid JSON: {exc}") from None


def _catalog(deps: Container) -> list[tuple[str, str]]:
    return [(s.platform, s.store_id) for s in deps.catalog.list_stores()]


def _amounts_allowed() -> bool:
    role = principal_of(bp.current_request).role
    return Permission.READ_PAYMENTS in permissions_of(role)


@bp.route("/me", methods=["GET"])
@api_errors
def handle_me() -> Any:
    """Who the key is and what its role may do: the console shows only those controls."""
    principal = principal_of(bp.current_request)
    return json_response(
        {
            "key_id": principal.key_id,
            "owner": principal.owner,
            "role": principal.role,
            "permissions": sorted(str(p) for p in permissions_of(principal.role)),
        },
        headers=NO_STORE,
    )


@bp.route("/orders", methods=["GET"])
@api_errors
def handle_search_orders() -> Any:
    """Orders by store/platform, status, booking, placed-day range, order-id prefix or buyer
    reference; newest first (order-id prefix: by id); `cursor` pages on."""
    deps = container()
    params = _params()
    filters = order_search.parse_filters(params)
    page = order_search.search_orders(
        filters, params.get("cursor", ""), kpi_day(deps.now()), deps.order_search
    )
    amounts = params.get("include") == "amounts"
    return json_response(
        {
            "orders": [row.to_dict(amounts) for row in page.rows],
            "count": len(page.rows),
            "next_cursor": page.next_cursor,
        },
        headers=NO_STORE,
    )


def _buyer_view(deps: Container, ref: str) -> dict[str, Any]:
    filters = order_search.SearchFilters(buyer=ref, limit=BUYER_ORDERS_MAX)
    rows = deps.order_search.search(filters, "", BUYER_ORDERS_MAX)
    thresholds = order_search.parse_thresholds(deps.settings.buyer_lifecycle)
    amounts = _amounts_allowed()
    tag = order_search.lifecycle(rows, deps.now(), thresholds)
    return {
        "buyer": ref,
        "lifecycle": tag.to_dict(amounts),
        "thresholds": thresholds.to_dict(),
        "orders": [row.to_dict(amounts) for row in rows],
        "count": len(rows),
        "truncated": len(rows) == BUYER_ORDERS_MAX,
    }


@bp.route("/buyers/lookup", methods=["POST"])
@api_errors
def handle_buyer_lookup() -> Any:
    """A buyer by phone (`{"phone"}` in the body, so it stays out of URLs and logs): the
    buyer reference, lifecycle tag and orders across stores and platforms."""
    deps = container()
    phone = order_search.parse_phone(_json_body())
    ref = deps.personal_data.index_phone(phone)
    if not ref:
        raise NotFound("phone search is not set up (ORDERHUB_BLIND_INDEX_SECRET is unset)")
    return json_response(_buyer_view(deps, ref), headers=NO_STORE)


@bp.route("/buyers/{buyer}", methods=["GET"])
@api_errors
def handle_get_buyer(buyer: str) -> Any:
    """The same view by buyer reference (`p1:<hex>`, from a lookup or an order list)."""
    if not valid_index(buyer):
        raise InvalidPayload("buyer must be a buyer reference (`p1:` and 64 hex digits)")
    return json_response(_buyer_view(container(), buyer), headers=NO_STORE)


@bp.route("/inventory", methods=["GET"])
@api_errors
def handle_list_inventory() -> Any:
    """Every SKU x warehouse, by SKU, with the last quantity pushed to each channel;
    `low=1` keeps items at or below their safety stock (or sold out); `sku` a prefix."""
    deps = container()
    params = _params()
    unknown = sorted(set(params) - {"low", "sku", "limit", "cursor"})
    if unknown:
        raise InvalidPayload(f"unknown query parameter '{unknown[0]}'; use low, sku, limit, cursor")
    low = params.get("low", "")
    if low not in ("", "0", "1", "true", "false"):
        raise InvalidPayload("low must be 1 or 0")
    limit = order_search.parse_limit(params.get("limit"), default=50, maximum=200)
    after = params.get("cursor", "")
    if len(after) > 200 or len(params.get("sku", "")) > 200:
        raise InvalidPayload("sku and cursor are at most 200 characters")
    levels = deps.stock_list.page(after, limit + 1, low in ("1", "true"), params.get("sku", ""))
    views = stock_list.sku_views(levels, {})
    more = len(views) > limit
    views = views[:limit]
    pushed = deps.push_records.last_pushed([v["sku"] for v in views])
    for view in views:
        view["channels"] = pushed.get(view["sku"], [])
    return json_response(
        {
            "items": views,
            "count": len(views),
            "next_cursor": views[-1]["sku"] if more and views else None,
        }
    )


@bp.route("/inventory/{sku}/warehouses/{warehouse}/policy", methods=["PUT"])
@api_errors
def handle_set_stock_policy(sku: str, warehouse: str) -> Any:
    """Safety stock, holdback and the channels it is kept for, of one stock item (audited);
    the change is pushed to the channels by the next push run."""
    deps = container()
    found = [lvl for lvl in deps.orders.get_sku_levels(sku) if lvl.warehouse == warehouse]
    if not found:
        raise NotFound(f"SKU '{sku}' has no stock record in warehouse '{warehouse}'")
    policy = stock_list.parse_policy(_json_body(), found[0])
    before = stock_list.StockPolicy(
        found[0].safety_stock, found[0].holdback, found[0].holdback_channels
    )
    deps.orders.configure_stock(
        sku, warehouse, policy.safety_stock, policy.holdback, policy.holdback_channels
    )
    audit(
        Action.STOCK_POLICY,
        f"inventory/{sku}/{warehouse}",
        before=before.to_dict(),
        after=policy.to_dict(),
        request=bp.current_request,
    )
    return json_response({"sku": sku, "warehouse": warehouse, **policy.to_dict()})


def _warehouse_view(w: Any) -> dict[str, Any]:
    return {"warehouse": w.warehouse_id, "region": w.region, "priority": w.priority}


@bp.route("/warehouses", methods=["GET"])
@api_errors
def handle_list_warehouses() -> Any:
    found = sorted(container().catalog_store.list_warehouses(), key=lambda w: w.priority)
    return json_response({"warehouses": [_warehouse_view(w) for w in found]})


@bp.route("/warehouses/{warehouse}", methods=["PUT"])
@api_errors
def handle_put_warehouse(warehouse: str) -> Any:
    """A warehouse's region and priority (allocation order; 1 first), audited."""
    deps = container()
    current = {w.warehouse_id: w for w in deps.catalog_store.list_warehouses()}.get(warehouse)
    saved = stock_list.parse_warehouse(warehouse, _json_body(), current)
    deps.catalog_store.put_warehouse(saved)
    audit(
        Action.WAREHOUSE_SAVE,
        f"warehouse/{warehouse}",
        before=_warehouse_view(current) if current else None,
        after=_warehouse_view(saved),
        request=bp.current_request,
    )
    return json_response(_warehouse_view(saved))


def _platform_days(
    deps: Container, days: list[date]
) -> dict[str, dict[str, tuple[int, dict[str, Decimal]]]]:
    """Per platform and day: orders placed and GMV (the `placed_day` index, a Query per
    store and day, QUERY_THREADS at a time)."""

    def totals(store_day: tuple[str, str, date]) -> tuple[int, dict[str, Decimal]]:
        platform, store, day = store_day
        rows = (
            board.PlacedRow(r.status.value, r.booking, str(r.amount), r.currency)
            for r in deps.order_days.orders_of_day(platform, store, day)
        )
        return board.day_totals(rows)

    pairs = [(p, s, d) for p, s in _catalog(deps) for d in days]
    with ThreadPoolExecutor(QUERY_THREADS) as pool:
        results = list(pool.map(totals, pairs))
    found: dict[str, dict[str, tuple[int, dict[str, Decimal]]]] = {}
    for (platform, _, day), (count, gmv) in zip(pairs, results, strict=True):
        if not count:
            continue
        per_day = found.setdefault(platform, {})  # platforms with orders in the range
        before_count, before_gmv = per_day.get(day.isoformat(), (0, {}))
        for currency, value in gmv.items():
            before_gmv[currency] = before_gmv.get(currency, Decimal(0)) + value
        per_day[day.isoformat()] = (before_count + count, before_gmv)
    return found


def _latencies(deps: Container, days: list[date]) -> dict[str, list[float]]:
    """Receipt-to-booking seconds per UTC day of receipt (the trail's `store_day` index, a
    Query per store and day, QUERY_THREADS at a time)."""

    def seconds(store_day: tuple[str, str, date]) -> list[float]:
        platform, store, day = store_day
        found = (board.latency_seconds(t) for t in deps.trail.receipts(platform, store, str(day)))
        return [s for s in found if s is not None]

    pairs = [(p, s, d) for p, s in _catalog(deps) for d in days]
    with ThreadPoolExecutor(QUERY_THREADS) as pool:
        results = list(pool.map(seconds, pairs))
    found: dict[str, list[float]] = {}
    for (_, _, day), values in zip(pairs, results, strict=True):
        if values:
            found.setdefault(day.isoformat(), []).extend(values)
    return found


@bp.route("/board", methods=["GET"])
@api_errors
def handle_board() -> Any:
    """Orders and GMV per platform per Beijing day, and the four indicators against target
    (stored daily ones; today's counted now)."""
    from chalicelib.api.kpis import count_kpis  # the KPI job's own counting

    deps = container()
    params = _params()
    unknown = sorted(set(params) - {"from", "to"})
    if unknown:
        raise InvalidPayload(f"unknown query parameter '{unknown[0]}'; use from, to")
    today = kpi_day(deps.now())
    days = board.board_days(params, today)
    kpis: dict[str, Any] = {}
    for day in days:
        stored = deps.ops_stats.kpis(day.isoformat())
        if stored is None and day == today:
            stored = count_kpis(deps, day).to_dict()
        kpis[day.isoformat()] = stored
    view = board.board_view(days, _platform_days(deps, days), kpis, _latencies(deps, days))
    return json_response(view)
