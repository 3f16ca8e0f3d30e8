"""The API description of the two-person reveal and of people's actions on orders (void,
address correction, export): kept beside `api/openapi.py`, whose `openapi_document` adds
them, so that file does not grow past its size."""

from __future__ import annotations

from typing import Any

from chalicelib.api.openapi_build import operation_object
from chalicelib.api.openapi_schema import (
    ORDER_EXAMPLE,
    STRING,
    TIME,
    Operation,
    Reply,
    maybe,
    obj,
    ref,
)

PRINCIPAL = obj({"key_id": STRING, "owner": STRING, "role": STRING})
REVEAL_REQUEST = obj(
    {
        "request_id": STRING,
        "order_key": STRING,
        "status": {"type": "string", "enum": ["pending", "approved"]},
        "reason": STRING,
        "requested_by": PRINCIPAL,
        "requested_at": TIME,
        "pending_until": maybe(TIME),
        "approved_by": maybe(PRINCIPAL),
        "approved_at": maybe(TIME),
        "valid_until": maybe(TIME),
    }
)
REQUEST_EXAMPLE = {
    "request_id": "rv_5f2c9d0e1a7b4c3d",
    "order_key": "mall#demo-shop#o-1",
    "status": "pending",
    "reason": "buyer called: courier cannot reach the number on the label",
    "requested_by": {"key_id": "dev-cs", "owner": "local developer", "role": "cs"},
    "requested_at": "2026-11-25T08:00:00+00:00",
    "pending_until": "2026-11-26T08:00:00+00:00",
    "approved_by": None,
    "approved_at": None,
    "valid_until": None,
}
APPROVED_EXAMPLE = {
    **REQUEST_EXAMPLE,
    "status": "approved",
    "pending_until": None,
    "approved_by": {"key_id": "dev-ops", "owner": "shift lead", "role": "ops"},
    "approved_at": "2026-11-25T08:02:00+00:00",
    "valid_until": "2026-11-25T08:32:00+00:00",
}
REASON = {"type": "string", "minLength": 10, "maxLength": 500}
ORDER_PATH_ERRORS = {404: "no such order processed"}

ORDER_OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/orders/{platform}/{store}/{order_id}/personal-data/requests"): Operation(
        "Ask to see an order's buyer in clear (two-person rule, step 1)",
        "orders",
        {201: Reply("the request, pending approval", REVEAL_REQUEST, REQUEST_EXAMPLE)},
        {400: "no reason, or one under 10 (over 500) characters", **ORDER_PATH_ERRORS},
        description=(
            "Another person holding `approve_decrypt` (ops, admin) must approve it; then the "
            "requester's key may reveal that order for 30 minutes. Audited "
            "(`personal_data.request`), the reason scrubbed of phones, ID numbers, emails."
        ),
        body=obj({"reason": REASON}),
        body_example={"reason": "buyer called: courier cannot reach the number on the label"},
    ),
    ("POST", "/personal-data/requests/{request_id}/approve"): Operation(
        "Approve another person's reveal request (two-person rule, step 2)",
        "orders",
        {200: Reply("approved: valid for 30 minutes", REVEAL_REQUEST, APPROVED_EXAMPLE)},
        {
            404: "no such request",
            409: "approved already, or lapsed (24 hours without approval)",
        },
        description=(
            "By a different key *and* owner than the requester (else 403). Audited "
            "(`personal_data.approve`)."
        ),
        body=None,
        path_params={"request_id": (STRING, "the id `.../personal-data/requests` answered")},
    ),
    ("POST", "/orders/{platform}/{store}/{order_id}/void"): Operation(
        "Void (作废) an order, with a reason: cancelled by OrderHub, held stock released",
        "orders",
        {200: Reply("the order as it stands now", ref("Order"), ORDER_EXAMPLE)},
        {
            400: "no reason (10 to 500 characters)",
            409: "cancelled or refunded already",
            **ORDER_PATH_ERRORS,
        },
        description=(
            "Booked like a platform's cancellation (its own event, so a second void changes "
            "nothing). Audited (`order.void`). Amounts shown only with `read_payments`."
        ),
        body=obj({"reason": REASON}),
        body_example={"reason": "duplicate order placed by the buyer by mistake"},
    ),
    ("POST", "/orders/{platform}/{store}/{order_id}/address"): Operation(
        "Correct the shipping address of an order held on the suspicious-address rule",
        "orders",
        {200: Reply("the order (buyer masked)", ref("Order"), ORDER_EXAMPLE)},
        {
            400: "no address or reason, or the new address still fails the address checks",
            409: "the order is not held on the suspicious-address rule",
            **ORDER_PATH_ERRORS,
        },
        description=(
            "The address is sealed like any buyer data; the `suspicious_address` anomaly is "
            "resolved. Audited (`order.edit_address`, masked addresses only)."
        ),
        body=obj(
            {"address": {"type": "string", "minLength": 1, "maxLength": 1000}, "reason": REASON}
        ),
        body_example={
            "address": "浙江省杭州市西湖区文三路 90 号 3 幢 501 室",
            "reason": "buyer confirmed the full address by phone",
        },
    ),
    ("GET", "/orders/export"): Operation(
        "Export orders placed in a range of Beijing days as CSV",
        "orders",
        {
            200: Reply(
                "CSV: platform, store, day, order_id, status, booking, currency, and amount "
                "for callers holding read_payments; never buyer data",
                {"type": "string"},
                None,
            )
        },
        {400: "from/to not days, reversed, or over 31 days", 404: "no such store"},
        description="Audited (`orders.export`: range, stores, rows).",
        query={
            "from": ({"type": "string", "format": "date"}, "first Beijing day, YYYY-MM-DD"),
            "to": ({"type": "string", "format": "date"}, "last Beijing day (default: from)"),
            "store": (STRING, "only this store (`platform/store`)"),
        },
    ),
}


def order_operation_objects() -> dict[tuple[str, str], dict[str, Any]]:
    """The operations above as OpenAPI operation objects (the export answers CSV)."""
    found = {key: operation_object(*key, op) for key, op in ORDER_OPERATIONS.items()}
    export = found[("GET", "/orders/export")]["responses"]["200"]
    export["content"] = {"text/csv": {"schema": {"type": "string"}}}
    return found
