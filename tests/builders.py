"""Small builders for test data, so each test states only what matters to it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from chalicelib.domain.model import Buyer, OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.timeutil import parse_aware

RECEIVED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def event(
    order_id: str = "o-1",
    status: str = "unpaid",
    updated_at: str = "2026-11-25T16:00:00+08:00",
    lines: tuple[tuple[str, int], ...] = (("SKU-A", 1),),
    delivery: str | None = None,
    platform: str = "mall",
    store: str = "s1",
) -> OrderEvent:
    delivery = delivery or f"{order_id}-{status}-{updated_at}"
    return OrderEvent(
        event_key=f"{platform}#{store}#{delivery}",
        platform=platform,
        store=store,
        order_id=order_id,
        event_type={"unpaid": "created"}.get(status, status),
        status=PlatformStatus(status),
        updated_at=parse_aware(updated_at),
        updated_at_raw=updated_at,
        currency="CNY",
        lines=tuple(OrderLine(sku, q, Decimal("12.50")) for sku, q in lines),
        buyer=Buyer("Li Lei", "13812345678", "1 Nanjing Road, Shanghai"),
        received_at=RECEIVED,
    )


def mall_payload(
    order_id: str = "o-1",
    status: str = "unpaid",
    updated_at: str = "2026-11-25T16:00:00+08:00",
    lines: list[dict[str, Any]] | None = None,
    event_type: str | None = None,
) -> dict[str, Any]:
    return {
        "type": event_type
        or {"unpaid": "order.created", "paid": "order.paid", "cancelled": "order.cancelled"}[
            status
        ],
        "timestamp": updated_at,
        "data": {
            "order_id": order_id,
            "status": status,
            "updated_at": updated_at,
            "currency": "CNY",
            "lines": lines
            if lines is not None
            else [{"sku": "SKU-A", "quantity": 2, "unit_price": "12.50"}],
            "buyer": {
                "name": "Li Lei",
                "phone": "13812345678",
                "address": "1 Nanjing Road, Shanghai",
            },
        },
    }


def body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()
