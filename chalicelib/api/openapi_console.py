"""The API description of the console's routes (api/console_api.py, api/console.py), kept
apart from api/openapi.py so that file stays small; `console_operations` is merged into its
OPERATIONS."""

from __future__ import annotations

from typing import Any

from chalicelib.api import openapi_schema as o


def console_operations() -> dict[tuple[str, str], Any]:
    string, integer, boolean = o.STRING, o.INTEGER, o.BOOLEAN
    ref_schema = {"type": "string", "pattern": "^p1:[0-9a-f]{64}$"}
    row = o.obj(
        {
            "platform": string,
            "store": string,
            "order_id": string,
            "status": string,
            "booking": string,
            "placed_at": string,
            "updated_at": string,
            "reason": string,
            "amount": o.DECIMAL,
            "currency": string,
        },
        required=("platform", "store", "order_id", "status", "booking", "placed_at"),
    )
    row_example = {
        "platform": "mall",
        "store": "demo-shop",
        "order_id": "o-1",
        "status": "paid",
        "booking": "locked",
        "placed_at": "2026-11-25T08:00:00+00:00",
        "updated_at": "2026-11-25T08:00:00+00:00",
        "reason": "",
    }
    lifecycle = o.obj(
        {
            "tag": {"type": "string", "enum": ["none", "new", "repeat", "vip", "dormant", "lost"]},
            "orders": integer,
            "first_order_at": o.maybe(string),
            "last_order_at": o.maybe(string),
            "amounts": {"type": "object"},
        },
        required=("tag", "orders", "first_order_at", "last_order_at"),
    )
    buyer = o.obj(
        {
            "buyer": ref_schema,
            "lifecycle": lifecycle,
            "thresholds": {"type": "object"},
            "orders": o.array(row),
            "count": integer,
            "truncated": boolean,
        }
    )
    buyer_example = {
        "buyer": "p1:" + "0" * 64,
        "lifecycle": {
            "tag": "new",
            "orders": 1,
            "first_order_at": "2026-11-25T08:00:00+00:00",
            "last_order_at": "2026-11-25T08:00:00+00:00",
        },
        "thresholds": {"repeat_orders": 2, "vip_orders": 5, "dormant_days": 90, "lost_days": 180},
        "orders": [row_example],
        "count": 1,
        "truncated": False,
    }
    level = {b: integer for b in ("on_hand", "locked", "reserved", "available")}
    stock_item = o.obj(
        {
            "sku": string,
            "warehouses": o.array(
                o.obj(
                    {
                        "warehouse": string,
                        **level,
                        "safety_stock": integer,
                        "holdback": integer,
                        "holdback_channels": o.array(string),
                        "low": boolean,
                    }
                )
            ),
            "total": o.obj(level),
            "safety_stock": integer,
            "low": boolean,
            "limited_sale": boolean,
            "channels": o.array(
                o.obj({"platform": string, "store": string, "quantity": integer, "at": string})
            ),
        }
    )
    policy = o.obj(
        {
            "safety_stock": {"type": "integer", "minimum": 0},
            "holdback": {"type": "integer", "minimum": 0},
            "holdback_channels": o.array(string),
        },
        required=(),
    )
    warehouse = o.obj(
        {"warehouse": string, "region": string, "priority": {"type": "integer", "minimum": 1}}
    )
    metric = o.obj(
        {
            "value": o.maybe({"type": "number"}),
            "target": {"type": "number"},
            "met": o.maybe(boolean),
        }
    )
    page = {"name": (string, "")}
    return {
        ("GET", "/me"): o.Operation(
            "Who the key belongs to and what its role may do",
            "access",
            {
                200: o.Reply(
                    "the caller",
                    o.obj(
                        {
                            "key_id": string,
                            "owner": string,
                            "role": string,
                            "permissions": o.array(string),
                        }
                    ),
                    {
                        "key_id": "key_6a74cf9dc368",
                        "owner": "alice@example.com",
                        "role": "cs",
                        "permissions": ["read_orders"],
                    },
                )
            },
        ),
        ("GET", "/orders"): o.Operation(
            "Search orders: store, platform, status, booking, placed days, id prefix, buyer",
            "orders",
            {
                200: o.Reply(
                    "a page of orders (no buyer data); `next_cursor` pages on",
                    o.obj(
                        {
                            "orders": o.array(row),
                            "count": integer,
                            "next_cursor": o.maybe(string),
                        }
                    ),
                    {"orders": [row_example], "count": 1, "next_cursor": None},
                )
            },
            {400: "a filter, the limit or the cursor is not valid (the message names it)"},
            description=(
                "Served by the orders table's indexes (never a scan): `buyer` by the phone's "
                "blind index, `order_id` by `store_order_id` (ascending by id), otherwise "
                "`store_created` (newest first). Days are Beijing days. Amounts only with "
                "`include=amounts` and the `read_payments` permission."
            ),
            query={
                "platform": (string, "one platform"),
                "store": (string, "one store: `platform/store` (or with `platform=`)"),
                "status": (string, "platform statuses, comma-separated (paid,shipped)"),
                "booking": (string, "bookings, comma-separated (locked,needs_attention)"),
                "from": (o.DATE, "first placed day (Beijing)"),
                "to": (o.DATE, "last placed day (Beijing)"),
                "order_id": ({"type": "string", "maxLength": 64}, "an order-id prefix"),
                "buyer": (ref_schema, "a buyer reference (from POST /buyers/lookup)"),
                "limit": ({"type": "integer", "minimum": 1, "maximum": 100}, "default 25"),
                "cursor": (string, "the previous page's `next_cursor`"),
                "include": (
                    {"type": "string", "enum": ["amounts"]},
                    "`amounts` (needs `read_payments`)",
                ),
            },
        ),
        ("POST", "/buyers/lookup"): o.Operation(
            "A buyer by phone: lifecycle tag and orders across stores and platforms",
            "orders",
            {200: o.Reply("the buyer", buyer, buyer_example)},
            {
                400: "phone is missing or not a phone number",
                404: "phone search is not set up",
                503: "the blind index key cannot be read now: retry",
            },
            description=(
                "The phone is sent in the body (never in a URL) and compared through its keyed "
                "blind index (HMAC-SHA256 under a key in Secrets Manager): no phone is stored "
                "in clear. Lifecycle tags (new, repeat, vip, dormant, lost) follow the "
                "configured thresholds (ORDERHUB_BUYER_LIFECYCLE)."
            ),
            body=o.obj({"phone": {"type": "string", "minLength": 5, "maxLength": 40}}),
            body_example={"phone": "138 1234 5678"},
        ),
        ("GET", "/buyers/{buyer}"): o.Operation(
            "A buyer by reference: lifecycle tag and orders",
            "orders",
            {200: o.Reply("the buyer", buyer, buyer_example)},
            {400: "not a buyer reference"},
            path_params={"buyer": (ref_schema, "`p1:` and 64 hex digits")},
        ),
        ("GET", "/inventory"): o.Operation(
            "Every SKU x warehouse, with the last quantity pushed to each channel",
            "inventory",
            {
                200: o.Reply(
                    "a page of SKUs",
                    o.obj(
                        {
                            "items": o.array(stock_item),
                            "count": integer,
                            "next_cursor": o.maybe(string),
                        }
                    ),
                    {"items": [], "count": 0, "next_cursor": None},
                )
            },
            {400: "a parameter is not valid"},
            query={
                "low": ({"type": "string", "enum": ["0", "1"]}, "1: at or below safety stock"),
                "sku": ({"type": "string", "maxLength": 200}, "a SKU prefix"),
                "limit": ({"type": "integer", "minimum": 1, "maximum": 200}, "default 50"),
                "cursor": ({"type": "string", "maxLength": 200}, "the previous `next_cursor`"),
            },
        ),
        ("PUT", "/inventory/{sku}/warehouses/{warehouse}/policy"): o.Operation(
            "Set a stock item's safety stock and channel holdback (audited)",
            "inventory",
            {
                200: o.Reply(
                    "the policy now",
                    o.obj({"sku": string, "warehouse": string, **policy["properties"]}),
                    {
                        "sku": "SKU-A",
                        "warehouse": "w1",
                        "safety_stock": 5,
                        "holdback": 0,
                        "holdback_channels": [],
                    },
                )
            },
            {400: "the body is not valid (the message names the field)", 404: "no such item"},
            body=policy,
            body_example={"safety_stock": 5},
            path_params={"warehouse": (string, "the warehouse id")},
        ),
        ("GET", "/warehouses"): o.Operation(
            "Warehouses with region and priority",
            "inventory",
            {
                200: o.Reply(
                    "the warehouses",
                    o.obj({"warehouses": o.array(warehouse)}),
                    {"warehouses": [{"warehouse": "w1", "region": "east", "priority": 1}]},
                )
            },
        ),
        ("PUT", "/warehouses/{warehouse}"): o.Operation(
            "Set a warehouse's region and priority (audited)",
            "inventory",
            {
                200: o.Reply(
                    "the warehouse", warehouse, {"warehouse": "w1", "region": "east", "priority": 1}
                )
            },
            {400: "the body is not valid (the message names the field)"},
            body=o.obj(
                {
                    "region": {"type": "string", "minLength": 1, "maxLength": 64},
                    "priority": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
                required=(),
            ),
            body_example={"region": "east", "priority": 1},
            path_params={"warehouse": (string, "the warehouse id")},
        ),
        ("GET", "/board"): o.Operation(
            "Orders and GMV per platform per day, and the four indicators against target",
            "reports",
            {
                200: o.Reply(
                    "the board",
                    o.obj(
                        {
                            "from": o.DATE,
                            "to": o.DATE,
                            "day_zone": string,
                            "platforms": o.array({"type": "object"}),
                            "metrics": o.array(
                                o.obj(
                                    {
                                        "day": o.DATE,
                                        "new_orders": o.maybe(integer),
                                        "sync_latency_p50_seconds": metric,
                                        "oversell_rate_pct": metric,
                                        "anomaly_ratio_pct": metric,
                                        "customer_chase_rate_pct": metric,
                                    }
                                )
                            ),
                            "targets": {"type": "object"},
                        }
                    ),
                    {
                        "from": "2026-11-25",
                        "to": "2026-11-25",
                        "day_zone": "Asia/Shanghai",
                        "platforms": [],
                        "metrics": [],
                        "targets": {},
                    },
                )
            },
            {400: "from/to are not valid days, or span more than 14 days"},
            query={"from": (o.DATE, "first Beijing day"), "to": (o.DATE, "last Beijing day")},
        ),
        ("GET", "/console"): o.Operation(
            "The browser console (HTML; sign in with an API key)",
            "console",
            {200: o.Reply("the page", {"type": "string"})},
            security=(),
        ),
        ("GET", "/console/assets/{name}"): o.Operation(
            "One of the console's scripts or styles",
            "console",
            {200: o.Reply("the file", {"type": "string"})},
            {404: "no such asset"},
            path_params=page,
            security=(),
        ),
    }
