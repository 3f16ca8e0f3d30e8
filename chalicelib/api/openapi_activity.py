"""The API description of notes, pick lists, review notes and the tracking callbacks (merged
into api/openapi.py's OPERATIONS)."""

from __future__ import annotations

from chalicelib.api.openapi_schema import (
    ID,
    STRING,
    TIME,
    Operation,
    Reply,
    array,
    obj,
)
from chalicelib.domain.order_notes import MAX_NOTE_CHARS, MAX_PICK_ORDERS, MAX_REVIEW_CHARS

MONTH = (
    {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$", "examples": ["2026-11"]},
    "the reviewed month, YYYY-MM (Beijing)",
)
NOTE = obj(
    {
        "order_key": STRING,
        "note_id": STRING,
        "at": TIME,
        "author": STRING,
        "role": STRING,
        "text": STRING,
    }
)
NOTE_EXAMPLE = {
    "order_key": "mall#demo-shop#o-1",
    "note_id": "n-1",
    "at": "2026-11-25T09:00:00+00:00",
    "author": "cs-team",
    "role": "cs",
    "text": "buyer called: parcel not moving since Guangzhou; asked YTO, call back [phone]",
}
REVIEW_NOTE = obj(
    {
        "month": STRING,
        "rule": STRING,
        "root_cause": STRING,
        "action": STRING,
        "author": STRING,
        "at": TIME,
    }
)
REVIEW_EXAMPLE = {
    "month": "2026-11",
    "rule": "logistics_stalled",
    "root_cause": "YTO Guangzhou hub backlog after 11.11",
    "action": "ship Guangzhou orders with SF until 12-05",
    "author": "ops-lead",
    "at": "2026-12-01T02:00:00+00:00",
}
ORDER_REF = obj({"platform": ID, "store": ID, "order_id": ID})

ACTIVITY_OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/orders/{platform}/{store}/{order_id}/notes"): Operation(
        "Add a note to an order (customer service, ops); shown in its timeline",
        "orders",
        {
            201: Reply(
                "added",
                obj({"status": {"type": "string", "enum": ["added"]}, "note": NOTE}),
                {"status": "added", "note": NOTE_EXAMPLE},
            ),
            200: Reply(
                "a note with this note_id was added before: nothing changed",
                obj({"status": {"type": "string", "enum": ["duplicate"]}, "note": NOTE}),
                {"status": "duplicate", "note": NOTE_EXAMPLE},
            ),
        },
        {400: "text missing or too long (the message says)", 404: "no such order"},
        description=(
            "Phone numbers, ID numbers and e-mail addresses in the text are replaced by "
            "markers before it is stored. Send a `note_id` to make a retry safe."
        ),
        body=obj(
            {"text": {"type": "string", "maxLength": MAX_NOTE_CHARS}, "note_id": ID},
            required=("text",),
        ),
        body_example={"text": "buyer called: parcel stuck in Guangzhou", "note_id": "n-1"},
    ),
    ("POST", "/wms/pick-lists"): Operation(
        "The WMS printed a pick list naming these orders (idempotent per list and order)",
        "inventory",
        {
            200: Reply(
                "recorded (or every order already recorded for this list)",
                obj(
                    {
                        "status": {"type": "string", "enum": ["recorded", "duplicate"]},
                        "pick_list_id": STRING,
                        "printed_at": TIME,
                        "recorded": array(STRING),
                        "already_recorded": array(STRING),
                    }
                ),
                {
                    "status": "recorded",
                    "pick_list_id": "pl-1",
                    "printed_at": "2026-11-25T09:00:00+00:00",
                    "recorded": ["mall#demo-shop#o-1"],
                    "already_recorded": [],
                },
            )
        },
        {
            400: "the body is not valid (the message names the field)",
            404: "an order is not known (nothing was recorded)",
            503: "a dependency failed: retry",
        },
        body=obj(
            {
                "pick_list_id": ID,
                "printed_at": TIME,
                "warehouse": STRING,
                "orders": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_PICK_ORDERS,
                    "items": ORDER_REF,
                },
            },
            required=("pick_list_id", "orders"),
        ),
        body_example={
            "pick_list_id": "pl-1",
            "printed_at": "2026-11-25T09:00:00+08:00",
            "warehouse": "w1",
            "orders": [{"platform": "mall", "store": "demo-shop", "order_id": "o-1"}],
        },
    ),
    ("POST", "/reports/monthly-review/{month}/notes"): Operation(
        "Record a month's root cause and action for one anomaly type (replaces an earlier one)",
        "reports",
        {201: Reply("recorded", REVIEW_NOTE, REVIEW_EXAMPLE)},
        {400: "month, rule, root_cause or action is not valid (the message says which)"},
        description="The next month's review report lists them beside its numbers.",
        body=obj(
            {
                "rule": STRING,
                "root_cause": {"type": "string", "maxLength": MAX_REVIEW_CHARS},
                "action": {"type": "string", "maxLength": MAX_REVIEW_CHARS},
            }
        ),
        body_example={
            "rule": "logistics_stalled",
            "root_cause": "YTO Guangzhou hub backlog after 11.11",
            "action": "ship Guangzhou orders with SF until 12-05",
        },
        path_params={"month": MONTH},
    ),
    ("GET", "/reports/monthly-review/{month}/notes"): Operation(
        "A month's root causes and actions, one per anomaly type",
        "reports",
        {
            200: Reply(
                "the notes",
                obj({"month": STRING, "notes": array(REVIEW_NOTE)}),
                {"month": "2026-11", "notes": [REVIEW_EXAMPLE]},
            )
        },
        {400: "month must be YYYY-MM"},
        path_params={"month": MONTH},
    ),
    ("POST", "/tracking/{provider}/callback"): Operation(
        "A tracking aggregator pushes a parcel's track (快递100, AfterShip)",
        "intake",
        {
            200: Reply(
                "queued; 快递100 gets the answer it expects",
                {"type": "object"},
                {"result": True, "returnCode": "200", "message": "成功"},
            )
        },
        {
            400: "the body is not the provider's format (the message says what)",
            401: "the signature does not match (快递100 `sign`, AfterShip header)",
            404: "unknown provider",
            413: "body over 1 MiB",
            503: "the queue could not take it: the provider pushes again",
        },
        description=(
            "快递100: form `sign=<MD5(param + salt), upper-case hex>&param=<JSON>`. "
            "AfterShip: JSON with `aftership-hmac-sha256` = base64 HMAC-SHA256(secret, body)."
        ),
        body={"type": "object"},
        body_types=("application/x-www-form-urlencoded", "application/json"),
        path_params={
            "provider": (
                {"type": "string", "enum": ["kuaidi100", "aftership"]},
                "the tracking aggregator",
            )
        },
        security=("kuaidi100Sign", "aftershipHmac"),
    ),
}
