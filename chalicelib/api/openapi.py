"""The API description: an OpenAPI 3.1 document of every route, served at GET /openapi.json.

Built at run time from `OPERATIONS` (one entry per route: what it takes and answers) and
`api/access.py` (who may call it): each protected operation gets the bearer-key security
requirement, `x-permission` (the one permission from `ROUTES`), `x-roles` (who holds it) and
the 401/403 answers; public ones their `PUBLIC_ROUTES` note. Every operation may answer 500.
Every error body is `{"error", "message"}` (`api/http.py`).

Kept true by tests/unit/test_openapi.py: the app's routes and this document name the same
(method, path) pairs, permissions match ROUTES, the document is valid OpenAPI 3.1, and every
example validates against its schema. A new route: add its entry to OPERATIONS (the test says
which and how).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint

from chalicelib.api import access
from chalicelib.api.http import json_response
from chalicelib.api.openapi_console import console_operations
from chalicelib.domain.permissions import DESCRIPTIONS, roles_with

bp = Blueprint(__name__)

Schema = dict[str, Any]
VERSION = "1.0.0"

# ---- schema helpers -------------------------------------------------------------------------

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
TIME: Schema = {"type": "string", "format": "date-time"}
DATE: Schema = {"type": "string", "format": "date", "examples": ["2026-11-25"]}
DECIMAL: Schema = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def maybe(schema: Schema) -> Schema:
    """The schema, or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def obj(
    properties: Mapping[str, Schema], required: tuple[str, ...] | None = None, **extra: Any
) -> Schema:
    """An object; every property required unless `required` names fewer. Extra properties
    are allowed: a client must ignore fields it does not know (answers grow)."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties if required is None else required),
        **extra,
    }


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


# ---- shared schemas (components) -------------------------------------------------------------

HOLD = obj(
    {
        "sku": STRING,
        "warehouse": STRING,
        "reserved": INTEGER,
        "locked": INTEGER,
        "shipped": INTEGER,
    }
)
LEVELS = {b: INTEGER for b in ("on_hand", "locked", "reserved", "available")}
API_KEY = obj(
    {
        "key_id": STRING,
        "owner": STRING,
        "role": STRING,
        "created_at": TIME,
        "created_by": STRING,
        "expires_at": TIME,
        "last_used_at": maybe(TIME),
        "disabled": BOOLEAN,
        "disabled_at": maybe(TIME),
        "disabled_reason": STRING,
        "rotated_at": maybe(TIME),
        "previous_valid_until": maybe(TIME),
    }
)
ANOMALY = obj(
    {
        "key": STRING,
        "path": STRING,
        "rule": STRING,
        "subject": STRING,
        "priority": {"type": "string", "enum": ["P0", "P1", "P2"]},
        "status": {"type": "string", "enum": ["open", "acknowledged", "resolved"]},
        "detail": STRING,
        "owner": STRING,
        "opened_at": maybe(TIME),
        "last_seen_at": maybe(TIME),
        "occurrences": INTEGER,
        "escalation_level": INTEGER,
        "acknowledged": maybe({"type": "object"}),
        "resolved": maybe({"type": "object"}),
    },
    required=("key", "rule", "subject", "priority", "status"),
)

SCHEMAS: dict[str, Schema] = {
    "Error": {
        "type": "object",
        "description": "Every error OrderHub answers: a code and what to do about it.",
        "properties": {
            "error": {"type": "string", "examples": ["invalid_payload"]},
            "message": {"type": "string"},
        },
        "required": ["error", "message"],
        "additionalProperties": False,
    },
    "Order": obj(
        {
            "platform": STRING,
            "store": STRING,
            "order_id": STRING,
            "status": {
                "type": "string",
                "enum": ["unpaid", "paid", "shipped", "cancelled", "refunded"],
            },
            "booking": STRING,
            "reason": STRING,
            "updated_at": TIME,
            "updated_at_raw": STRING,
            "currency": STRING,
            "total": DECIMAL,
            "lines": array(obj({"sku": STRING, "quantity": INTEGER, "unit_price": DECIMAL})),
            "holds": array(ref("Hold")),
            "buyer": maybe(
                obj(
                    {
                        "name": {"type": "string", "examples": ["L*"]},
                        "phone": {"type": "string", "examples": ["138****5678"]},
                        "address": {"type": "string", "examples": ["Shanghai"]},
                        "email": {"type": "string", "examples": ["l***@example.com"]},
                        "id_number": {"type": "string", "examples": ["1101**********1234"]},
                    },
                    description=(
                        "masked (chalicelib/domain/privacy.py): name's first character, phone's "
                        "first 3 and last 4, email's first character and domain, ID number's "
                        "first and last 4, the address's region/city; empty when not sent. "
                        "POST .../personal-data shows them in clear."
                    ),
                )
            ),
            "version": INTEGER,
            "last_event_key": STRING,
            "created_at": maybe(TIME),
        },
        description="One order as OrderHub holds it; the buyer's contact masked.",
    ),
    "Hold": HOLD,
    "Stock": obj(
        {
            "sku": STRING,
            "warehouses": array(obj({"warehouse": STRING, **LEVELS, "safety_stock": INTEGER})),
            "total": obj(LEVELS),
        }
    ),
    "TimelineEntry": obj(
        {
            "at": TIME,
            "kind": {
                "type": "string",
                "enum": [
                    "receipt",
                    "attempt",
                    "dead_letter",
                    "booking",
                    "shipment",
                    "reservation_expired",
                    "allocation",
                    "anomaly",
                    "notification",
                    "note",
                    "pick_list",
                    "track",
                    "after_sales",
                ],
            },
            "summary": STRING,
            "details": {"type": "object"},
        }
    ),
    "Timeline": obj(
        {
            "order": maybe(ref("Order")),
            "order_key": STRING,
            "entries": array(ref("TimelineEntry")),
            "not_covered": array(STRING),
        }
    ),
    "ApiKey": API_KEY,
    "IssuedApiKey": {
        "allOf": [
            ref("ApiKey"),
            obj({"key": {"type": "string", "pattern": "^oh_"}, "note": STRING}),
        ],
        "description": "The key itself is shown in this answer only.",
    },
    "AuditEntry": obj(
        {
            "entry_id": STRING,
            "at": TIME,
            "key_id": STRING,
            "actor": STRING,
            "role": STRING,
            "action": STRING,
            "target": STRING,
            "source_ip": STRING,
            "user_agent": STRING,
            "before": maybe({"type": "object"}),
            "after": maybe({"type": "object"}),
            "expires_at": TIME,
        },
        required=("entry_id", "at", "actor", "action", "target"),
    ),
    "Anomaly": ANOMALY,
}

# ---- the operations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    description: str
    schema: Schema
    example: Any = None


@dataclass(frozen=True)
class Operation:
    """What one route takes and answers. Path parameters come from the path (`path_params`
    describes them); errors are the route's own 4xx/503 answers, the common ones (401 and
    403 for protected routes, 500 for all) are added."""

    summary: str
    tag: str
    replies: Mapping[int, Reply]
    errors: Mapping[int, str] = field(default_factory=dict)
    description: str = ""
    query: Mapping[str, tuple[Schema, str]] = field(default_factory=dict)  # name -> (schema, doc)
    headers: Mapping[str, tuple[Schema, str]] = field(default_factory=dict)
    body: Schema | None = None
    body_example: Any = None
    body_required: bool = True
    body_types: tuple[str, ...] = ("application/json",)
    path_params: Mapping[str, tuple[Schema, str]] = field(default_factory=dict)
    security: tuple[str, ...] | None = None  # public routes: their own schemes


ID = {"type": "string", "minLength": 1}
ORDER_EXAMPLE = {
    "platform": "mall",
    "store": "demo-shop",
    "order_id": "o-1",
    "status": "paid",
    "booking": "shipped",
    "reason": "",
    "updated_at": "2026-11-25T08:00:00+00:00",
    "updated_at_raw": "2026-11-25T16:00:00+08:00",
    "currency": "CNY",
    "total": "25.00",
    "lines": [{"sku": "SKU-A", "quantity": 2, "unit_price": "12.50"}],
    "holds": [{"sku": "SKU-A", "warehouse": "w1", "reserved": 0, "locked": 0, "shipped": 2}],
    "buyer": {
        "name": "L*",
        "phone": "138****5678",
        "address": "Shanghai",
        "email": "",
        "id_number": "",
    },
    "version": 2,
    "last_event_key": "wms#c-1",
    "created_at": "2026-11-25T08:00:02+00:00",
}
STOCK_EXAMPLE = {
    "sku": "SKU-A",
    "warehouses": [
        {
            "warehouse": "w1",
            "on_hand": 6,
            "locked": 0,
            "reserved": 0,
            "available": 6,
            "safety_stock": 0,
        }
    ],
    "total": {"on_hand": 6, "locked": 0, "reserved": 0, "available": 6},
}
KEY_EXAMPLE = {
    "key_id": "key_6a74cf9dc368",
    "owner": "alice@example.com",
    "role": "cs",
    "created_at": "2026-11-25T08:30:02+00:00",
    "created_by": "key_0123456789ab",
    "expires_at": "2027-02-23T08:30:02+00:00",
    "last_used_at": None,
    "disabled": False,
    "disabled_at": None,
    "disabled_reason": "",
    "rotated_at": None,
    "previous_valid_until": None,
}
ISSUED_EXAMPLE = {
    **KEY_EXAMPLE,
    "key": "oh_Ql8npMSvGSzD34E-GtRqKVZabw1MUqEci386nL8eeTU",
    "note": "store this key now: OrderHub keeps only its hash and cannot show it again",
}
ANOMALY_EXAMPLE = {
    "key": "out_of_stock#mall#demo-shop#o-7",
    "path": "/anomalies/out_of_stock%23mall%23demo-shop%23o-7",
    "rule": "out_of_stock",
    "subject": "mall#demo-shop#o-7",
    "priority": "P0",
    "status": "open",
    "detail": "SKU-A: 3 wanted, 1 available",
    "owner": "ops",
    "opened_at": "2026-11-25T08:00:00+00:00",
    "last_seen_at": "2026-11-25T08:00:00+00:00",
    "occurrences": 1,
    "escalation_level": 0,
    "acknowledged": None,
    "resolved": None,
}
TIMELINE_EXAMPLE = {
    "order": ORDER_EXAMPLE,
    "order_key": "mall#demo-shop#o-1",
    "entries": [
        {
            "at": "2026-11-25T08:00:00+00:00",
            "kind": "receipt",
            "summary": "received from mall/demo-shop (signature verified), acknowledged in 38 ms",
            "details": {
                "event_key": "mall#demo-shop#d-paid",
                "ack_ms": 38,
                "raw": {"key": "raw/mall/demo-shop/2026/11/25/a17464d1.json"},
            },
        },
        {
            "at": "2026-11-25T08:00:02+00:00",
            "kind": "attempt",
            "summary": "processing attempt 1: booked",
            "details": {"event_key": "mall#demo-shop#d-paid", "attempt": 1},
        },
        {
            "at": "2026-11-25T08:00:02+00:00",
            "kind": "booking",
            "summary": "booked; SKU-A@w1: locked +2, available -2",
            "details": {"event_key": "mall#demo-shop#d-paid", "outcome": "booked"},
        },
        {
            "at": "2026-11-25T08:30:02+00:00",
            "kind": "shipment",
            "summary": "shipped by the warehouse (WMS confirmation c-1); SKU-A@w1: locked -2",
            "details": {"event_key": "wms#c-1", "confirmation_id": "c-1"},
        },
    ],
    "not_covered": ["reconciliation lines are not linked to orders"],
}

PLATFORM = {"type": "string", "examples": ["mall", "shopify"]}
STORE = {"type": "string", "examples": ["demo-shop"]}
DATE_QUERY = (DATE, "a UTC day, YYYY-MM-DD")
LISTING = obj(
    {
        "platform": STRING,
        "store": STRING,
        "sku": STRING,
        "mapped": {"type": "boolean"},
        "ids": {"type": "object", "additionalProperties": STRING},
        "checked_at": maybe(TIME),
        "note": STRING,
    }
)
LISTING_EXAMPLE = {
    "platform": "shopify",
    "store": "demo-shopify",
    "sku": "TEA-LONGJING-250G",
    "mapped": True,
    "ids": {
        "inventory_item_id": "gid://shopify/InventoryItem/7000",
        "variant_id": "gid://shopify/ProductVariant/7000",
        "location_id": "gid://shopify/Location/900",
    },
    "checked_at": "2026-11-25T08:00:00+00:00",
    "note": "productVariants sku search",
}
NOTE_BODY = obj({"note": {"type": "string", "maxLength": 1000}}, required=())

WEBHOOK_HEADERS: dict[str, tuple[Schema, str]] = {
    "webhook-id": (STRING, "Standard Webhooks (own shop `mall`, BigCommerce): the delivery id"),
    "webhook-timestamp": (STRING, "Standard Webhooks: Unix seconds, within 5 minutes"),
    "webhook-signature": (STRING, "Standard Webhooks: `v1,<base64 HMAC-SHA256>`"),
    "X-Shopify-Hmac-Sha256": (STRING, "Shopify: base64 HMAC-SHA256 of the raw body"),
    "X-Shopify-Webhook-Id": (STRING, "Shopify: the delivery id"),
    "X-WC-Webhook-Signature": (STRING, "WooCommerce: base64 HMAC-SHA256 of the raw body"),
    "event-sign": (STRING, "Douyin: hex MD5 or HMAC-SHA256 (per `sign-method`)"),
    "app-id": (STRING, "Douyin: the app id"),
}


def _anomaly_step(summary: str, answer: str, note_example: str) -> Operation:
    """Acknowledge and resolve: the same request (an optional note) and refusals."""
    return Operation(
        summary,
        "anomalies",
        {200: Reply(answer, ref("Anomaly"), ANOMALY_EXAMPLE)},
        {
            400: "the note is not valid",
            403: "the caller's role does not own the anomaly's rule",
            404: "no such anomaly",
            409: "already resolved, or changed meanwhile",
        },
        body=NOTE_BODY,
        body_required=False,
        body_example={"note": note_example},
        path_params={"key": (STRING, "`rule#subject`, URL-encoded (`#` as `%23`)")},
    )


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/webhooks/{platform}/{store}"): Operation(
        "Receive a platform's order webhook",
        "intake",
        {
            200: Reply(
                "accepted (the reply the platform expects: Douyin's `{code, msg}`, others "
                "`{status, delivery_id, events}`); pings queue nothing",
                {"type": "object"},
                {"code": 0, "msg": "success"},
            ),
            202: Reply(
                "accepted and queued (own shop)",
                obj({"status": STRING, "delivery_id": STRING, "events": array(STRING)}),
                {"status": "accepted", "delivery_id": "msg_1", "events": ["mall#demo-shop#msg_1"]},
            ),
        },
        {
            400: "the body is not a valid order payload (the message names the field)",
            401: "the signature does not verify, or its timestamp is stale",
            404: "unknown platform or store",
            413: "the body is over 1 MiB",
            503: "the store's credentials are incomplete, or a dependency failed: send again",
        },
        description=(
            "Verified over the raw body bytes with the store's secret (several during a "
            "rotation), normalized and queued; nothing else happens on the sender's clock. "
            "Any content type is taken. Refused deliveries queue nothing."
        ),
        headers=WEBHOOK_HEADERS,
        body={"type": "object", "description": "the platform's payload, as it sends it"},
        body_example={"type": "order.created", "data": {"order_id": "o-1"}},
        path_params={
            "platform": (PLATFORM, "the channel: mall, shopify, woocommerce, bigcommerce, ..."),
            "store": (STORE, "the store id in the catalog"),
        },
        security=(
            "standardWebhooks",
            "shopifyHmac",
            "wooCommerceSignature",
            "tiktokSignature",
            "douyinSign",
        ),
    ),
    ("GET", "/health"): Operation(
        "Health of OrderHub's dependencies",
        "operations",
        {
            200: Reply(
                "every dependency answers",
                obj({"status": STRING, "checks": {"type": "object"}}),
                {"status": "ok", "checks": {"dynamodb": "ok", "sqs": "ok"}},
            ),
            503: Reply(
                "a dependency does not answer (named in `checks`)",
                obj({"status": STRING, "checks": {"type": "object"}}),
                {"status": "degraded", "checks": {"dynamodb": "ok", "sqs": "error: ..."}},
            ),
        },
        security=(),
    ),
    ("GET", "/openapi.json"): Operation(
        "This API description (OpenAPI 3.1)",
        "operations",
        {200: Reply("the document", {"type": "object"}, {"openapi": "3.1.0"})},
        security=(),
    ),
    ("GET", "/orders/{platform}/{store}/{order_id}"): Operation(
        "One order: status, booking, lines, holds; buyer contact masked",
        "orders",
        {200: Reply("the order", ref("Order"), ORDER_EXAMPLE)},
        {404: "no such order processed (yet: a webhook accepted moments ago may be queued)"},
    ),
    ("POST", "/orders/{platform}/{store}/{order_id}/personal-data"): Operation(
        "A buyer's personal data in clear, for a stated reason (audited)",
        "orders",
        {
            200: Reply(
                "the buyer's fields in clear (empty where the platform sent none)",
                obj(
                    {
                        "order_key": STRING,
                        "buyer": maybe(
                            obj(
                                {
                                    k: STRING
                                    for k in ("name", "phone", "address", "email", "id_number")
                                }
                            )
                        ),
                        "raw": obj({"event_key": STRING, "payload": maybe(STRING)}),
                    },
                    required=("order_key", "buyer"),
                ),
                {
                    "order_key": "mall#demo-shop#o-1",
                    "buyer": {
                        "name": "Li Lei",
                        "phone": "13812345678",
                        "address": "1 Nanjing Road, Shanghai",
                        "email": "",
                        "id_number": "",
                    },
                },
            )
        },
        {
            400: "no request_id; include is not `raw`",
            404: "no such order processed",
            429: "over 20 reveals by this key this hour (a P1 bulk_decrypt anomaly is opened)",
            503: "the key service cannot open the data now; retry",
        },
        description=(
            "The second authorization for personal data: the `decrypt` permission (admin, "
            "cs) and a reason. Opens the order's sealed buyer (KMS, bound to this order); "
            "`include=raw` adds the raw payload of the event that last changed the order. "
            "Audited as `personal_data.decrypt` with the reason and the names of the fields "
            "shown, never their values. Answers carry `Cache-Control: no-store`."
        ),
        query={
            "include": (
                {"type": "string", "enum": ["raw"]},
                "`raw`: add the raw payload of the order's last event",
            ),
        },
        body=obj({"request_id": ID}),
        body_example={"request_id": "rv_5f2c9d0e1a7b4c3d"},
    ),
    ("GET", "/orders/{platform}/{store}/{order_id}/timeline"): Operation(
        "Everything known about one order, in time order (where is my parcel?)",
        "orders",
        {200: Reply("the order (masked) and its timeline", ref("Timeline"), TIMELINE_EXAMPLE)},
        {
            400: "include is not `raw`, or include=raw without a reason",
            404: "nothing is known of the order: no record, no receipt, nothing parked",
        },
        description=(
            "Webhook receipts (time, ack latency, authenticity), processing attempts, DLQ "
            "stays, stock movements, WMS shipments, the current allocation, anomalies and "
            "their announcements. `not_covered` says what it cannot show. With "
            "`include=raw&reason=...` each receipt carries the platform's raw payload "
            "(buyer data in clear): that needs the `decrypt` permission too, and is audited "
            "(`order.raw_read`)."
        ),
        query={
            "include": (
                {"type": "string", "enum": ["raw"]},
                "`raw`: add the raw payloads (needs `decrypt`; audited)",
            ),
            "reason": (
                {"type": "string", "maxLength": 500},
                "why the raw payloads are needed (required with include=raw)",
            ),
        },
    ),
    ("GET", "/inventory/{sku}"): Operation(
        "One SKU's stock in every warehouse",
        "inventory",
        {200: Reply("the levels", ref("Stock"), STOCK_EXAMPLE)},
        {404: "the SKU has no stock record"},
    ),
    ("POST", "/inventory/{sku}/adjustments"): Operation(
        "A stock receipt, return or count (idempotent by adjustment_id)",
        "inventory",
        {
            200: Reply(
                "applied, or a duplicate of one applied before",
                obj(
                    {
                        "status": {"type": "string", "enum": ["applied", "duplicate"]},
                        "stock": ref("Stock"),
                    }
                ),
                {"status": "applied", "stock": STOCK_EXAMPLE},
            )
        },
        {
            400: "the body is not valid (the message names the field)",
            409: "a count or change conflicts with what is committed; re-read and retry",
            503: "a dependency failed: retry",
        },
        body=obj(
            {
                "adjustment_id": ID,
                "warehouse": ID,
                "kind": {"type": "string", "enum": ["receipt", "return", "count"]},
                "quantity": {"type": "integer", "minimum": 0},
                "reason": ID,
            }
        ),
        body_example={
            "adjustment_id": "po-7-line-1",
            "warehouse": "w1",
            "kind": "receipt",
            "quantity": 3,
            "reason": "PO 7",
        },
    ),
    ("POST", "/wms/outbound-confirmations"): Operation(
        "The WMS confirms units left the warehouse (idempotent by confirmation_id)",
        "inventory",
        {
            200: Reply(
                "shipped, or a duplicate of one applied before",
                obj(
                    {
                        "status": {"type": "string", "enum": ["shipped", "duplicate"]},
                        "order": ref("Order"),
                    }
                ),
                {"status": "shipped", "order": ORDER_EXAMPLE},
            )
        },
        {
            400: "the body is not valid (the message names the field)",
            404: "no such order (yet): retry later",
            409: "more than the order holds locked would ship",
            503: "a dependency failed: retry",
        },
        body=obj(
            {
                "confirmation_id": ID,
                "platform": ID,
                "store": ID,
                "order_id": ID,
                "lines": {
                    "type": "array",
                    "minItems": 1,
                    "items": obj(
                        {
                            "sku": ID,
                            "quantity": {"type": "integer", "minimum": 1},
                            "warehouse": STRING,
                        },
                        required=("sku", "quantity"),
                    ),
                },
            }
        ),
        body_example={
            "confirmation_id": "c-1",
            "platform": "mall",
            "store": "demo-shop",
            "order_id": "o-1",
            "lines": [{"sku": "SKU-A", "quantity": 2}],
        },
    ),
    ("GET", "/ops/dlq"): Operation(
        "How many order events are parked in the DLQ, and the oldest's age",
        "operations",
        {
            200: Reply(
                "depth and age",
                obj({"depth": INTEGER, "oldest_age_seconds": maybe(INTEGER), "replay": STRING}),
                {"depth": 0, "oldest_age_seconds": None, "replay": "bin/orderhub dlq replay"},
            )
        },
    ),
    ("GET", "/ops/conservation"): Operation(
        "Per store and UTC day: accepted = booked + rejected + held + settled + DLQ + in flight",
        "operations",
        {
            200: Reply(
                "every store's balance",
                obj({"date": STRING, "stores": array({"type": "object"}), "difference": BOOLEAN}),
                {"date": "2026-11-25", "stores": [], "difference": False},
            )
        },
        {400: "date is not YYYY-MM-DD"},
        query={
            "date": DATE_QUERY,
            "store": (STRING, "one store: `store` or `platform/store`"),
        },
    ),
    ("GET", "/ops/channel-health"): Operation(
        "The latest health check of every store's channel (or a day's summary)",
        "operations",
        {
            200: Reply(
                "the stores' health",
                {"type": "object"},
                {"stores": [], "failing": []},
            )
        },
        {400: "date is not YYYY-MM-DD", 404: "no summary for that day"},
        query={"date": DATE_QUERY},
    ),
    ("GET", "/ops/kpis"): Operation(
        "A Beijing day's service indicators: orders placed, oversell rate, anomaly ratio",
        "operations",
        {
            200: Reply(
                "the day's indicators (a rate is null when the day had no orders or no source)",
                obj(
                    {
                        "day": DATE,
                        "new_orders": INTEGER,
                        "oversold_orders": INTEGER,
                        "anomalies_opened": INTEGER,
                        "anomalies_by_rule": {"type": "object"},
                        "oversell_rate_pct": maybe({"type": "number"}),
                        "anomaly_ratio_pct": maybe({"type": "number"}),
                        "customer_chase_rate_pct": maybe({"type": "number"}),
                    }
                ),
                {
                    "day": "2026-11-25",
                    "new_orders": 400,
                    "oversold_orders": 3,
                    "anomalies_opened": 8,
                    "anomalies_by_rule": {"out_of_stock": 2, "backorder": 1, "unknown_sku": 5},
                    "oversell_rate_pct": 0.75,
                    "anomaly_ratio_pct": 2.0,
                    "customer_chase_rate_pct": None,
                },
            )
        },
        {400: "date is not YYYY-MM-DD", 404: "no indicators for that day yet"},
        query={"date": DATE_QUERY},
    ),
    ("GET", "/ops/banners"): Operation(
        "Banners for the console: metric-table alarms now in ALARM (the oversell rate)",
        "operations",
        {
            200: Reply(
                "the active banners, oldest first (none: an empty list)",
                obj(
                    {
                        "banners": {
                            "type": "array",
                            "items": obj(
                                {
                                    "alarm": STRING,
                                    "priority": STRING,
                                    "title": STRING,
                                    "message": STRING,
                                    "reason": STRING,
                                    "since": TIME,
                                    "link": STRING,
                                }
                            ),
                        }
                    }
                ),
                {
                    "banners": [
                        {
                            "alarm": "orderhub-oversell-rate-above-0",
                            "priority": "P0",
                            "title": "P0 ALARM: orderhub-oversell-rate-above-0",
                            "message": "Yesterday (Beijing day) some orders were oversold.",
                            "reason": "Threshold Crossed: 1 datapoint [0.5] > 0.0",
                            "since": "2026-11-26T16:20:00+00:00",
                            "link": "https://api.example.com/console#/anomalies",
                        }
                    ]
                },
            )
        },
    ),
    ("POST", "/admin/api-keys"): Operation(
        "Issue an API key (shown once)",
        "access",
        {201: Reply("the key, shown this once", ref("IssuedApiKey"), ISSUED_EXAMPLE)},
        {400: "owner, role or expires_in_days is not valid"},
        body=obj(
            {
                "owner": {"type": "string", "minLength": 1, "maxLength": 128},
                "role": {"type": "string", "enum": ["admin", "ops", "cs", "finance", "warehouse"]},
                "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 90},
            },
            required=("owner", "role"),
        ),
        body_example={"owner": "alice@example.com", "role": "cs"},
    ),
    ("GET", "/admin/api-keys"): Operation(
        "Every API key, without secrets",
        "access",
        {200: Reply("the keys", obj({"keys": array(ref("ApiKey"))}), {"keys": [KEY_EXAMPLE]})},
    ),
    ("POST", "/admin/api-keys/{key_id}/rotate"): Operation(
        "Rotate a key: a new secret, the old one valid for the overlap",
        "access",
        {200: Reply("the new key, shown this once", ref("IssuedApiKey"), ISSUED_EXAMPLE)},
        {
            400: "overlap_hours or expires_in_days is not valid",
            404: "no such key",
            409: "the key is disabled, or changed meanwhile",
        },
        body=obj(
            {
                "overlap_hours": {"type": "number", "minimum": 0, "maximum": 168},
                "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 90},
            },
            required=(),
        ),
        body_required=False,
        body_example={"overlap_hours": 24},
        path_params={"key_id": ({"type": "string", "examples": ["key_6a74cf9dc368"]}, "")},
    ),
    ("POST", "/admin/api-keys/{key_id}/revoke"): Operation(
        "Revoke a key (every secret of it; within 60 s everywhere)",
        "access",
        {200: Reply("the key, disabled", ref("ApiKey"), {**KEY_EXAMPLE, "disabled": True})},
        {400: "the body is not valid JSON", 404: "no such key", 409: "changed meanwhile"},
        body=obj({"reason": STRING}, required=()),
        body_required=False,
        body_example={"reason": "left the company"},
        path_params={"key_id": ({"type": "string", "examples": ["key_6a74cf9dc368"]}, "")},
    ),
    ("GET", "/admin/audit"): Operation(
        "Query the audit log, newest first (follow `next`)",
        "access",
        {
            200: Reply(
                "a page of entries",
                obj(
                    {
                        "from": TIME,
                        "to": TIME,
                        "entries": array(ref("AuditEntry")),
                        "next": maybe(STRING),
                    },
                    required=("from", "to", "entries"),
                ),
                {
                    "from": "2026-11-24T08:30:02+00:00",
                    "to": "2026-11-25T08:30:02+00:00",
                    "entries": [],
                    "next": None,
                },
            )
        },
        {400: "from/to, limit or next is not valid"},
        query={
            "from": (TIME, "ISO-8601 with an offset (default: a day before `to`)"),
            "to": (TIME, "ISO-8601 with an offset (default: now)"),
            "actor": (STRING, "a key's owner, `system`, or the OS user of the CLI"),
            "action": (STRING, "e.g. api_key.issue, stock.adjust, order.raw_read"),
            "limit": ({"type": "integer", "minimum": 1, "maximum": 1000}, "default 100"),
            "next": (STRING, "the previous page's `next`"),
        },
    ),
    ("GET", "/anomalies"): Operation(
        "Anomalies: open and acknowledged ones, or filtered",
        "anomalies",
        {
            200: Reply(
                "the anomalies",
                obj({"anomalies": array(ref("Anomaly")), "count": INTEGER}),
                {"anomalies": [ANOMALY_EXAMPLE], "count": 1},
            )
        },
        {400: "status, priority or since is not valid"},
        query={
            "status": (
                {"type": "string", "enum": ["open", "acknowledged", "resolved"]},
                "default: open and acknowledged",
            ),
            "priority": ({"type": "string", "enum": ["P0", "P1", "P2"]}, ""),
            "rule": (STRING, "a rule name"),
            "since": (DATE, "resolved ones since this day"),
        },
    ),
    ("GET", "/anomalies/{key}"): Operation(
        "One anomaly",
        "anomalies",
        {200: Reply("the anomaly", ref("Anomaly"), ANOMALY_EXAMPLE)},
        {404: "no such anomaly"},
        path_params={"key": (STRING, "`rule#subject`, URL-encoded (`#` as `%23`)")},
    ),
    ("POST", "/anomalies/{key}/acknowledge"): _anomaly_step(
        "Acknowledge an anomaly (its rule's owner role, or admin)",
        "the anomaly, acknowledged",
        "picking it up",
    ),
    ("POST", "/anomalies/{key}/resolve"): _anomaly_step(
        "Resolve an anomaly (its rule's owner role, or admin); it reopens if it recurs",
        "the resolved episode",
        "restocked",
    ),
    ("GET", "/channels/{platform}/{store}/listings"): Operation(
        "A store's listing map: which listing holds each SKU on its platform",
        "inventory",
        {
            200: Reply(
                "the store's listings, by SKU",
                obj({"platform": STRING, "store": STRING, "listings": array(LISTING)}),
                {"platform": "shopify", "store": "demo-shopify", "listings": [LISTING_EXAMPLE]},
            )
        },
        {404: "no such store, or its platform has no listing map"},
        path_params={"platform": (PLATFORM, "the platform"), "store": (STORE, "the store id")},
    ),
    ("POST", "/channels/{platform}/{store}/listings/refresh"): Operation(
        "Look every SKU up in the store's catalog now (after fixing a listing's SKU)",
        "inventory",
        {
            200: Reply(
                "what the refresh found",
                obj(
                    {
                        "stores": INTEGER,
                        "mapped": INTEGER,
                        "unmapped": array(STRING),
                        "errors": array(STRING),
                    }
                ),
                {"stores": 1, "mapped": 4, "unmapped": [], "errors": []},
            )
        },
        {404: "no such store, or its platform has no listing map"},
        path_params={"platform": (PLATFORM, "the platform"), "store": (STORE, "the store id")},
    ),
    ("GET", "/reports"): Operation(
        "Fresh links to a day's report files",
        "reports",
        {
            200: Reply(
                "the day's reports",
                obj(
                    {
                        "date": STRING,
                        "kind": maybe(STRING),
                        "expires_at": TIME,
                        "reports": array({"type": "object"}),
                    }
                ),
                {
                    "date": "2026-11-24",
                    "kind": None,
                    "expires_at": "2026-11-28T08:00:00+00:00",
                    "reports": [],
                },
            )
        },
        {400: "date or kind is not valid"},
        query={
            "date": (DATE, "a Beijing day, YYYY-MM-DD (required)"),
            "kind": (STRING, "one kind of report"),
        },
    ),
}

OPERATIONS.update(console_operations())  # the console's routes (api/openapi_console.py)

SECURITY_SCHEMES: dict[str, Schema] = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "`Authorization: Bearer <api key>`; the role's permissions decide "
        "(docs/access.md). Missing or invalid: 401; role without the permission: 403.",
    },
    "standardWebhooks": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": "Standard Webhooks v1 (own shop, BigCommerce): HMAC-SHA256 over "
        "`webhook-id.webhook-timestamp.body`, with `webhook-id` and `webhook-timestamp`.",
    },
    "shopifyHmac": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Shopify-Hmac-Sha256",
        "description": "Shopify: base64 HMAC-SHA256 of the raw body with the app's secret.",
    },
    "wooCommerceSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-WC-Webhook-Signature",
        "description": "WooCommerce: base64 HMAC-SHA256 of the raw body with the secret.",
    },
    "tiktokSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "TikTok Shop: hex HMAC-SHA256(app secret, app key + body).",
    },
    "douyinSign": {
        "type": "apiKey",
        "in": "header",
        "name": "event-sign",
        "description": "Douyin: hex MD5(app key + body + app secret), or HMAC-SHA256 per "
        "`sign-method`; with `app-id`.",
    },
    "kuaidi100Sign": {
        "type": "apiKey",
        "in": "query",
        "name": "sign",
        "description": "快递100 push: form field `sign` = upper-case hex MD5(param + salt).",
    },
    "aftershipHmac": {
        "type": "apiKey",
        "in": "header",
        "name": "aftership-hmac-sha256",
        "description": "AfterShip: base64 HMAC-SHA256 of the raw body with the webhook secret.",
    },
}

COMMON_ERRORS = {
    401: "no key, or an unknown, expired, revoked or rotated-out key",
    403: "the key's role lacks the permission this route needs (the message names it)",
    500: "OrderHub could not complete the request; it is safe to retry",
}


BOUNDS_ERROR = (
    "a path or query value is too long or holds control characters (the message names it)"
)
UNSUPPORTED_MEDIA_TYPE = (
    "the body was sent with another Content-Type than application/json (the message says which)"
)
# answers that belong to no operation: a path with a method it does not list, and no such path
GATEWAY_ERRORS = {
    "MethodNotAllowed": (405, "the path exists, not with this method; `Allow` lists its methods"),
    "RouteNotFound": (404, "no such route (API Gateway's answer, in the same shape)"),
}

ERROR_CODES = {
    400: "invalid_payload",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    415: "unsupported_media_type",
    409: "conflict",
    413: "payload_too_large",
    429: "too_many_reveals",
    500: "internal_error",
    503: "transient_failure",
}


def _error_reply(code: int, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": ref("Error"),
                "example": {"error": ERROR_CODES.get(code, "error"), "message": description},
            }
        },
    }


def _reply(reply: Reply) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": reply.schema}
    if reply.example is not None:
        content["example"] = reply.example
    return {"description": reply.description, "content": {"application/json": content}}


def _parameter(name: str, where: str, schema: Schema, doc: str, required: bool) -> Schema:
    found: Schema = {"name": name, "in": where, "required": required, "schema": schema}
    if doc:
        found["description"] = doc
    return found


PATH_PARAM = re.compile(r"\{(\w+)\}")
DEFAULT_PATH_PARAMS: dict[str, tuple[Schema, str]] = {
    "platform": (PLATFORM, "the channel (mall, shopify, taobao, ...)"),
    "store": (STORE, "the store id"),
    "order_id": ({"type": "string", "examples": ["o-1"]}, "the platform's order id"),
    "sku": ({"type": "string", "examples": ["SKU-A"]}, "OrderHub's SKU"),
}


def operation_object(method: str, path: str, op: Operation) -> dict[str, Any]:
    """One operation, with what api/access.py says about who may call it."""
    key = (method, path)
    parameters = [
        _parameter(name, "path", *(op.path_params.get(name) or DEFAULT_PATH_PARAMS[name]), True)
        for name in PATH_PARAM.findall(path)
    ]
    parameters += [_parameter(n, "query", s, d, False) for n, (s, d) in op.query.items()]
    parameters += [_parameter(n, "header", s, d, False) for n, (s, d) in op.headers.items()]
    responses: dict[str, Any] = {str(code): _reply(r) for code, r in sorted(op.replies.items())}
    errors = dict(op.errors)
    found: dict[str, Any] = {
        "operationId": f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "summary": op.summary,
        "tags": [op.tag],
    }
    if op.description:
        found["description"] = op.description
    if key in access.ROUTES:
        permission = access.ROUTES[key]
        found["security"] = [{"apiKey": []}]
        found["x-permission"] = str(permission)
        found["x-roles"] = roles_with(permission)
        found["description"] = (
            found.get("description", "") + f"\n\nNeeds `{permission}` "
            f"({DESCRIPTIONS[permission]}): roles {', '.join(roles_with(permission))}."
        ).strip()
        extra = access.QUERY_PERMISSIONS.get(key)
        if extra is not None:
            found["x-query-permissions"] = {f"{extra[0]}={extra[1]}": str(extra[2])}
        errors.setdefault(401, COMMON_ERRORS[401])
        errors.setdefault(403, COMMON_ERRORS[403])
    else:
        found["security"] = [{name: []} for name in op.security or ()]
        found["x-public"] = access.PUBLIC_ROUTES.get(key, "")
    errors.setdefault(500, COMMON_ERRORS[500])
    if PATH_PARAM.findall(path) or op.query:  # the middleware's bounds (domain/bounds.py)
        errors.setdefault(400, BOUNDS_ERROR)
    if op.body is not None and list(op.body_types) == ["application/json"]:
        errors.setdefault(415, UNSUPPORTED_MEDIA_TYPE)
    for code, description in sorted(errors.items()):
        if code not in op.replies:
            responses[str(code)] = _error_reply(code, description)
    if parameters:
        found["parameters"] = parameters
    if op.body is not None:
        content = {"schema": op.body}
        if op.body_example is not None:
            content["example"] = op.body_example
        found["requestBody"] = {
            "required": op.body_required,
            "content": {media: content for media in op.body_types},
        }
    found["responses"] = responses
    return found


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once per process)."""
    from chalicelib.api.openapi_activity import ACTIVITY_OPERATIONS  # it imports this module

    OPERATIONS.update(ACTIVITY_OPERATIONS)
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in OPERATIONS.items():
        paths.setdefault(path, {})[method.lower()] = operation_object(method, path, op)
    # reveal requests, void, address correction, export: kept in their own module (size)
    from chalicelib.api.openapi_orders import order_operation_objects

    for (method, path), found in order_operation_objects().items():
        paths.setdefault(path, {})[method.lower()] = found
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OrderHub",
            "version": VERSION,
            "description": (
                "Order hub for many sales channels: webhooks in, bookings against stock, "
                "reads, warehouse confirmations, operations and access. Every error is "
                '`{"error": <code>, "message": <what to do>}`, Chalice\'s and API Gateway\'s '
                "own answers included: a method a path does not list is 405 "
                "(`#/components/responses/MethodNotAllowed`), an unknown path 404 "
                "(`RouteNotFound`), a JSON body sent as another type 415. Roles and "
                "permissions: docs/access.md."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": SECURITY_SCHEMES,
            "responses": {
                name: _error_reply(code, text) for name, (code, text) in GATEWAY_ERRORS.items()
            },
        },
    }


@bp.route("/openapi.json", methods=["GET"])
def handle_get_openapi() -> Any:
    """Public: it describes routes and schemas, never data."""
    return json_response(openapi_document())
