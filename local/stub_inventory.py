"""The platforms' inventory, catalog and order-list APIs, for the local stack's stubs.

Every push OrderHub makes through a platform's own API lands here, checked like the
platform checks it (a wrong token or signature gets that platform's own error answer), and
is recorded for `GET /_stub/pushes` with `platform`, `store`, `sku`, `quantity` and `api` (the
platform call it came through). Served on the stub platform (local/stub_platform.py):
- Shopify GraphQL `POST /admin/api/{v}/graphql.json`: `inventorySetQuantities`,
  `productVariants(query: "sku:...")`, `orders(query: "created_at:...")`;
- WooCommerce `POST /wp-json/wc/v3/products/batch`, `.../products/{id}/variations/batch`,
  `GET /wp-json/wc/v3/products?sku=`, `GET /wp-json/wc/v3/orders?after&before`;
- BigCommerce `PUT /stores/{hash}/v3/inventory/adjustments/absolute`,
  `GET /stores/{hash}/v3/catalog/variants?sku=`, `GET /stores/{hash}/v2/orders?min_date_created`;
- Amazon `POST /auth/o2/token` (LWA), `PATCH|GET /listings/2021-08-01/items/{seller}/{sku}`,
  `GET /orders/2026-01-01/orders`; Orders v0 (getOrder, getOrderItems, getOrders) and its
  `/_stub/amazon/...` control: local/stub_amazon_orders.py;
- TikTok Shop and Douyin: local/stub_inventory_signed.py.
Taobao, Pinduoduo and JD come through the pull stub's routers (local/stub_pull.py), which
check their signatures and hand the stock, listing and order-list methods to
`router_call` here.

The catalog: every seeded store lists every seeded SKU under ids derived from its position
(`Catalog`); `POST /_stub/catalog/remove {"platform", "store", "sku"}` delists one (a
listing gone). Day lists: `POST /_stub/day-orders {"platform", "store", "orders": [{"id",
"created_at", "status", "amount", "currency"}]}` (status: unpaid, paid, shipped, cancelled,
refunded) and each platform's order list serves them in its own shape.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local.stub_amazon_orders import AmazonOrdersStub
from local.stub_inventory_more import BigCommerceAmazonApis

SEED_PATH = Path(__file__).resolve().parent / "seed.json"
PLATFORMS = (
    "shopify",
    "woocommerce",
    "bigcommerce",
    "tiktok",
    "douyin",
    "taobao",
    "jd",
    "pinduoduo",
    "amazon",
)

Recorder = Callable[[dict[str, Any]], None]
Failing = Callable[[], "int | None"]


def _iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class StubStore:
    platform: str
    store_id: str
    credentials: dict[str, str]
    index: int
    listings: dict[str, dict[str, str]] = field(default_factory=dict)  # sku -> ids
    quantities: dict[str, int] = field(default_factory=dict)
    day_orders: list[dict[str, Any]] = field(default_factory=list)
    # a store whose listings carry their own SKUs (`sku_mapping: table`): the SKU each of our
    # SKUs is listed under (the first channel SKU its map gives)
    channel_sku: dict[str, str] = field(default_factory=dict)

    def searched(self, name: str) -> str | None:
        """Our SKU listed under the seller SKU `name`, if any."""
        if self.channel_sku:
            return next((ours for ours, c in self.channel_sku.items() if c == name), None)
        return name if name in self.listings else None

    def listed_as(self, sku: str) -> str:
        return self.channel_sku.get(sku, sku)


def listing_ids(platform: str, store_index: int, sku_index: int, sku: str) -> dict[str, str]:
    """The ids a stub store lists a SKU under (stable across restarts)."""
    base = 7000 + store_index * 100 + sku_index
    if platform == "shopify":
        return {
            "inventory_item_id": f"gid://shopify/InventoryItem/{base}",
            "variant_id": f"gid://shopify/ProductVariant/{base}",
            "location_id": f"gid://shopify/Location/{900 + store_index}",
        }
    if platform == "woocommerce":  # odd SKUs are variations of one variable product
        parent = str(500 + store_index) if sku_index % 2 else "0"
        return {"product_id": str(base), "parent_id": parent}
    if platform == "bigcommerce":
        return {"variant_id": str(base), "product_id": str(base + 50)}
    if platform == "tiktok":
        product = 1729592969712200000 + base * 10
        return {
            "product_id": str(product),
            "sku_id": str(product + 1),
            "warehouse_id": "7068517275539719942",
        }
    if platform == "douyin":
        return {
            "product_id": str(3500000000000000000 + base),
            "sku_id": str(1700000000000000000 + base),
        }
    if platform == "taobao":
        return {"num_iid": str(600000000000 + base), "sku_id": str(5000000000 + base)}
    if platform == "pinduoduo":
        return {"goods_id": str(300000000 + base), "sku_id": str(900000000 + base)}
    if platform == "jd":
        return {"sku_id": str(10000000000 + base), "ware_id": str(20000000 + base)}
    return {"product_type": "HOME"}  # amazon


class InventoryStub(BigCommerceAmazonApis):
    """Catalogs, stock and day lists of every seeded marketplace store (module docstring)."""

    def __init__(self, seed: Mapping[str, Any], record: Recorder, failing: Failing) -> None:
        self.lock = threading.Lock()
        self._record = record
        self._failing = failing
        self.stores: dict[tuple[str, str], StubStore] = {}
        skus = [s["sku"] for s in seed.get("skus", [])]
        counts: dict[str, int] = {}
        for raw in seed.get("stores", []):
            if raw["platform"] not in PLATFORMS:
                continue
            index = counts.get(raw["platform"], 0)
            counts[raw["platform"]] = index + 1
            creds = {k: str(v) for k, v in (raw.get("credentials") or {}).items()}
            store = StubStore(raw["platform"], raw["store_id"], creds, index)
            for k, sku in enumerate(skus):
                store.listings[sku] = listing_ids(store.platform, index, k, sku)
            if (raw.get("rules") or {}).get("sku_mapping") == "table":
                for channel, ours in sorted((raw.get("sku_map") or {}).items(), reverse=True):
                    store.channel_sku[ours] = channel  # the first (sorted) wins
                store.listings = {s: i for s, i in store.listings.items() if s in store.channel_sku}
            self.stores[(store.platform, store.store_id)] = store
        self.amazon_tokens: dict[str, str] = {}  # access token -> store id
        self.amazon_orders = AmazonOrdersStub(self)  # SP-API Orders v0

    @classmethod
    def from_seed(cls, record: Recorder, failing: Failing, path: Path = SEED_PATH) -> InventoryStub:
        return cls(json.loads(path.read_text(encoding="utf-8")), record, failing)

    # ---- shared -------------------------------------------------------------------------

    def of(self, platform: str) -> list[StubStore]:
        return [s for s in self.stores.values() if s.platform == platform]

    def find(self, platform: str, **match: str) -> StubStore | None:
        for store in self.of(platform):
            if all(store.credentials.get(k) == v and v for k, v in match.items()):
                return store
        return None

    def by_id(self, store: StubStore, name: str, value: str) -> str | None:
        """Our SKU listed under `name` = `value` in the store (None: no such listing)."""
        for sku, ids in store.listings.items():
            if ids.get(name) == value:
                return sku
        return None

    def push(self, store: StubStore, sku: str, quantity: int, api: str, body: Any) -> None:
        """Record one accepted push (holding the lock)."""
        store.quantities[sku] = quantity
        self._record(
            {
                "platform": store.platform,
                "store": store.store_id,
                "sku": sku,
                "quantity": quantity,
                "api": api,
                "body": body,
                "received_at": datetime.now(UTC).isoformat(),
            }
        )

    def failing(self) -> int | None:
        return self._failing()

    def douyin_day(self, app_key: str, params: dict[str, Any]) -> dict[str, Any]:
        from local.stub_inventory_signed import douyin_day

        return douyin_day(self, app_key, params)

    def control(self, path: str, body: Mapping[str, Any]) -> tuple[int, Any] | None:
        if path.startswith("/_stub/amazon/"):  # Orders v0 seeds and throttle
            return self.amazon_orders.control(path, body)
        if path == "/_stub/day-orders":
            store = self.stores.get((str(body.get("platform")), str(body.get("store"))))
            if store is None:
                return 404, {"error": "not_found", "message": "no such seeded store"}
            orders = []
            for order in body.get("orders") or []:
                orders.append({**order, "created": _iso(str(order["created_at"]))})
            with self.lock:
                if body.get("replace", True):
                    store.day_orders = [
                        o for o in store.day_orders if o["id"] not in {x["id"] for x in orders}
                    ]
                store.day_orders.extend(orders)
            return 200, {"orders": len(store.day_orders)}
        if path == "/_stub/catalog/remove":
            store = self.stores.get((str(body.get("platform")), str(body.get("store"))))
            if store is None:
                return 404, {"error": "not_found", "message": "no such seeded store"}
            with self.lock:
                store.listings.pop(str(body.get("sku")), None)
            return 200, {"removed": body.get("sku")}
        return None

    def day(self, store: StubStore, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The store's seeded orders created in [start, end), oldest first."""
        rows = [o for o in store.day_orders if start <= o["created"] < end]
        return sorted(rows, key=lambda o: (o["created"], str(o["id"])))

    # ---- HTTP platforms -----------------------------------------------------------------

    def serve(self, handler: Any, method: str) -> bool:
        """Answer the request if it is one of these APIs; False to let the caller route it."""
        url = urlsplit(handler.path)
        path = url.path
        routes: list[tuple[str, str, Callable[..., tuple[int, Any, dict[str, str]]]]] = [
            ("POST", r"^/admin/api/[^/]+/graphql\.json$", self._shopify),
            ("POST", r"^/wp-json/wc/v3/products/batch$", self._woo_batch),
            ("POST", r"^/wp-json/wc/v3/products/[^/]+/variations/batch$", self._woo_batch),
            ("GET", r"^/wp-json/wc/v3/products$", self._woo_products),
            ("GET", r"^/wp-json/wc/v3/orders$", self._woo_orders),
            ("PUT", r"^/stores/[^/]+/v3/inventory/adjustments/absolute$", self._bc_adjust),
            ("GET", r"^/stores/[^/]+/v3/catalog/variants$", self._bc_variants),
            ("GET", r"^/stores/[^/]+/v2/orders$", self._bc_orders),
            ("POST", r"^/auth/o2/token$", self._lwa),
            ("PATCH", r"^/listings/2021-08-01/items/[^/]+/[^/]+$", self._amazon_patch),
            ("GET", r"^/listings/2021-08-01/items/[^/]+/[^/]+$", self._amazon_get),
            ("GET", r"^/orders/2026-01-01/orders$", self._amazon_orders),
            ("GET", r"^/orders/v0/orders$", self.amazon_orders.get_orders),
            ("GET", r"^/orders/v0/orders/[^/]+$", self.amazon_orders.get_order),
            ("GET", r"^/orders/v0/orders/[^/]+/orderItems$", self.amazon_orders.get_items),
            ("GET", r"^/_stub/amazon/calls$", lambda *_: self.amazon_orders.calls_answer()),
        ]
        from local.stub_inventory_signed import signed_routes

        routes += signed_routes(self)
        for verb, pattern, answer in routes:
            if verb == method and re.match(pattern, path):
                raw = handler._raw() if method in ("POST", "PUT", "PATCH") else b""
                query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                headers = {k.lower(): v for k, v in handler.headers.items()}
                status, body, extra = answer(path, query, headers, raw)
                _send(handler, status, body, extra)
                return True
        return False

    # Shopify ------------------------------------------------------------------------------

    def _shopify(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        store = self.find("shopify", admin_api_token=headers.get("x-shopify-access-token", ""))
        if store is None:
            return (
                401,
                {
                    "errors": "[API] Invalid API key or access token "
                    "(unrecognized login or wrong password)"
                },
                {},
            )
        try:
            request = json.loads(raw)
            document, variables = str(request["query"]), request.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return 400, {"errors": {"query": "Required parameter missing or invalid"}}, {}
        with self.lock:
            if "inventorySetQuantities" in document:
                return (*self._shopify_set(store, variables.get("input") or {}), {})
            if "productVariants" in document:
                name = re.sub(r'^sku:"?|"$', "", str(variables.get("q", "")))
                nodes = []
                sku = store.searched(name)
                ids = store.listings.get(sku) if sku else None
                if ids:
                    nodes.append(
                        {
                            "id": ids["variant_id"],
                            "sku": name,
                            "product": {"id": "gid://shopify/Product/1"},
                            "inventoryItem": {
                                "id": ids["inventory_item_id"],
                                "tracked": True,
                                "inventoryLevels": {
                                    "nodes": [
                                        {"location": {"id": ids["location_id"], "name": "Main"}}
                                    ]
                                },
                            },
                        }
                    )
                return 200, {"data": {"productVariants": {"nodes": nodes}}}, {}
            if "orders(" in document:
                return (*self._shopify_orders(store, variables), {})
        return 200, {"errors": [{"message": "Field doesn't exist on type 'QueryRoot'"}]}, {}

    def _shopify_set(self, store: StubStore, payload: Mapping[str, Any]) -> tuple[int, Any]:
        if payload.get("name") != "available" or not payload.get("reason"):
            return 200, _user_error("INVALID_REASON", ["input", "reason"], "name/reason invalid")
        failing = self.failing()
        if failing is not None:
            return failing, {"errors": "Internal Server Error (stub told to fail)"}
        quantities = payload.get("quantities") or []
        accepted = []
        for i, quantity in enumerate(quantities):
            sku = self.by_id(store, "inventory_item_id", str(quantity.get("inventoryItemId")))
            if sku is None:
                return 200, _user_error(
                    "INVALID_INVENTORY_ITEM",
                    ["input", "quantities", str(i), "inventoryItemId"],
                    "The specified inventory item could not be found.",
                )
            if store.listings[sku]["location_id"] != quantity.get("locationId"):
                return 200, _user_error(
                    "INVALID_LOCATION",
                    ["input", "quantities", str(i), "locationId"],
                    "The specified location could not be found.",
                )
            accepted.append((sku, int(quantity["quantity"])))
        changes = []
        for sku, value in accepted:
            before = store.quantities.get(sku, 0)
            self.push(store, sku, value, "inventorySetQuantities", payload)
            changes.append(
                {"name": "available", "delta": value - before, "quantityAfterChange": value}
            )
        group = {
            "createdAt": datetime.now(UTC).isoformat(),
            "reason": payload["reason"],
            "changes": changes,
        }
        return 200, {
            "data": {
                "inventorySetQuantities": {"inventoryAdjustmentGroup": group, "userErrors": []}
            }
        }

    def _shopify_orders(self, store: StubStore, variables: Mapping[str, Any]) -> tuple[int, Any]:
        bounds = re.findall(r"created_at:(>=|<)'([^']+)'", str(variables.get("q", "")))
        found = {op: _iso(value) for op, value in bounds}
        if set(found) != {">=", "<"}:
            return 200, {"errors": [{"message": "query must bound created_at"}]}
        rows = self.day(store, found[">="], found["<"])
        start = int(variables.get("after") or 0)
        page = rows[start : start + 250]
        status = {
            "unpaid": "PENDING",
            "paid": "PAID",
            "shipped": "PAID",
            "cancelled": "VOIDED",
            "refunded": "REFUNDED",
        }
        nodes = [
            {
                "id": f"gid://shopify/Order/{o['id']}",
                "name": f"#{o['id']}",
                "createdAt": o["created"].isoformat(),
                "cancelledAt": o["created"].isoformat() if o["status"] == "cancelled" else None,
                "displayFinancialStatus": status[o["status"]],
                "displayFulfillmentStatus": "FULFILLED"
                if o["status"] == "shipped"
                else "UNFULFILLED",
                "totalPriceSet": {
                    "shopMoney": {
                        "amount": str(o["amount"]),
                        "currencyCode": o.get("currency", "USD"),
                    }
                },
            }
            for o in page
        ]
        more = start + 250 < len(rows)
        info = {"hasNextPage": more, "endCursor": str(start + 250) if more else None}
        return 200, {"data": {"orders": {"nodes": nodes, "pageInfo": info}}}

    # WooCommerce --------------------------------------------------------------------------

    def _woo_store(self, headers: dict[str, str]) -> StubStore | None:
        auth = headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return None
        try:
            key, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return self.find("woocommerce", consumer_key=key, consumer_secret=secret)

    def _woo_refused(self) -> tuple[int, Any, dict[str, str]]:
        return (
            401,
            {
                "code": "woocommerce_rest_cannot_view",
                "message": "Sorry, you cannot list resources.",
                "data": {"status": 401},
            },
            {},
        )

    def _woo_batch(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        store = self._woo_store(headers)
        if store is None:
            return self._woo_refused()
        failing = self.failing()
        if failing is not None:
            return (
                failing,
                {
                    "code": "internal_server_error",
                    "message": "stub told to fail",
                    "data": {"status": failing},
                },
                {},
            )
        parent = path.split("/")[5] if "/variations/" in path else "0"
        body = json.loads(raw or b"{}")
        answered = []
        with self.lock:
            for obj in body.get("update") or []:
                sku = self.by_id(store, "product_id", str(obj.get("id")))
                if sku is None or store.listings[sku]["parent_id"] != parent:
                    answered.append(
                        {
                            "id": obj.get("id"),
                            "error": {
                                "code": "woocommerce_rest_product_invalid_id",
                                "message": "Invalid ID.",
                                "data": {"status": 404},
                            },
                        }
                    )
                    continue
                api = "products/batch" if parent == "0" else "variations/batch"
                self.push(store, sku, int(obj["stock_quantity"]), api, obj)
                answered.append(
                    {
                        "id": obj["id"],
                        "sku": sku,
                        "manage_stock": True,
                        "stock_quantity": obj["stock_quantity"],
                    }
                )
        return 200, {"update": answered}, {}

    def _woo_products(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        store = self._woo_store(headers)
        if store is None:
            return self._woo_refused()
        name = query.get("sku", "")
        sku = store.searched(name)
        ids = store.listings.get(sku) if sku else None
        found = (
            []
            if not ids
            else [
                {
                    "id": int(ids["product_id"]),
                    "sku": name,
                    "parent_id": int(ids["parent_id"]),
                    "manage_stock": True,
                }
            ]
        )
        return 200, found, {"X-WP-Total": str(len(found)), "X-WP-TotalPages": "1"}

    def _woo_orders(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        store = self._woo_store(headers)
        if store is None:
            return self._woo_refused()
        if query.get("dates_are_gmt") != "true":
            return (
                400,
                {
                    "code": "rest_invalid_param",
                    "message": "dates_are_gmt must be true here",
                    "data": {"status": 400},
                },
                {},
            )
        rows = self.day(store, _iso(query["after"]), _iso(query["before"]))
        size, page = int(query.get("per_page") or 10), int(query.get("page") or 1)
        status = {
            "unpaid": "pending",
            "paid": "processing",
            "shipped": "completed",
            "cancelled": "cancelled",
            "refunded": "refunded",
        }
        listed = [
            {
                "id": int(o["id"]),
                "number": str(o["id"]),
                "status": status[o["status"]],
                "total": str(o["amount"]),
                "currency": o.get("currency", "USD"),
                "date_created_gmt": o["created"].strftime("%Y-%m-%dT%H:%M:%S"),
            }
            for o in rows[(page - 1) * size : page * size]
        ]
        pages = max(1, -(-len(rows) // size))
        return 200, listed, {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": str(pages)}


def _user_error(code: str, where: list[str], message: str) -> dict[str, Any]:
    error = {"code": code, "field": where, "message": message}
    return {
        "data": {
            "inventorySetQuantities": {"inventoryAdjustmentGroup": None, "userErrors": [error]}
        }
    }


def _send(handler: Any, status: int, body: Any, headers: Mapping[str, str]) -> None:
    data = b"" if status == 204 else json.dumps(body, ensure_ascii=False).encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


__all__ = ["InventoryStub", "StubStore", "listing_ids", "parsedate_to_datetime"]
