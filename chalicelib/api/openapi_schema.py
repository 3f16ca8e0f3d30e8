"""The API description's vocabulary: schema helpers, the shared component schemas, examples,
and the `Operation`/`Reply` records every route's entry is written with (api/openapi*.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]

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
