"""Every core route's entry: what it takes and answers (the console's, the people's actions on
orders and the activity routes have their own modules; api/openapi.py merges them)."""

from __future__ import annotations

from chalicelib.api.openapi_schema import (
    ANOMALY_EXAMPLE,
    BOOLEAN,
    DATE,
    DATE_QUERY,
    ID,
    INTEGER,
    ISSUED_EXAMPLE,
    KEY_EXAMPLE,
    LISTING,
    LISTING_EXAMPLE,
    NOTE_BODY,
    ORDER_EXAMPLE,
    PLATFORM,
    STOCK_EXAMPLE,
    STORE,
    STRING,
    TIME,
    TIMELINE_EXAMPLE,
    WEBHOOK_HEADERS,
    Operation,
    Reply,
    array,
    maybe,
    obj,
    ref,
)


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


CORE_OPERATIONS: dict[tuple[str, str], Operation] = {
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
