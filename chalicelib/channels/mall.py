"""The own-shop channel (`mall`): OrderHub's published webhook contract, Standard Webhooks signed.

    {"type": "order.created" | "order.paid" | "order.cancelled" | "order.updated"
             | "order.shipped" | "order.refunded",
     "timestamp": "<ISO-8601>",
     "data": {"order_id": str,
              "status": "unpaid" | "paid" | "shipped" | "cancelled" | "refunded",
              "updated_at": "<ISO-8601 with offset>", "currency": "CNY",
              "lines": [{"sku": str, "quantity": int, "unit_price": "12.50"}],
              "buyer": {"name": str, "phone": str, "address": str, "region"?: str,
                        "email"?: str, "id_number"?: str}}}

The buyer's name, phone, address, email and ID number are personal data: sealed at intake
(domain/personal_data.py) and shown masked.

Every rule broken is reported with the field's path, so a shop developer can fix the sender.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.channels.after_sales_platforms import is_mall_refund
from chalicelib.channels.base import Credentials, Delivery, accepted_reply, webhook_credentials
from chalicelib.channels.standard_webhooks import verify_standard_webhook
from chalicelib.domain.bounds import check_json_depth
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import Buyer, OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.ports import Store
from chalicelib.domain.timeutil import parse_aware

EVENT_TYPES = {
    "order.created": "created",
    "order.paid": "paid",
    "order.cancelled": "cancelled",
    "order.updated": "updated",
    "order.shipped": "shipped",
    "order.refunded": "refunded",
}
MAX_LINES = 500
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_PRICE = re.compile(r"^\d+(\.\d{1,4})?$")


def _require(obj: Mapping[str, Any], key: str, path: str, kind: type) -> Any:
    if key not in obj or obj[key] is None:
        raise InvalidPayload(f"{path}.{key} is required")
    value = obj[key]
    if kind is int and isinstance(value, bool):
        raise InvalidPayload(f"{path}.{key} must be an integer")
    if not isinstance(value, kind):
        raise InvalidPayload(f"{path}.{key} must be {_KIND_NAMES[kind]}")
    if isinstance(value, str) and not value.strip():
        raise InvalidPayload(f"{path}.{key} must not be empty")
    return value


_KIND_NAMES = {str: "a string", int: "an integer", dict: "an object", list: "an array"}


def _time(obj: Mapping[str, Any], key: str, path: str) -> tuple[datetime, str]:
    text = _require(obj, key, path, str)
    try:
        return parse_aware(text), text
    except ValueError as exc:
        raise InvalidPayload(f"{path}.{key}: {exc}") from None


def _line(raw: Any, path: str) -> OrderLine:
    if not isinstance(raw, dict):
        raise InvalidPayload(f"{path} must be an object")
    sku = _require(raw, "sku", path, str)
    quantity = _require(raw, "quantity", path, int)
    if quantity <= 0:
        raise InvalidPayload(f"{path}.quantity must be a positive integer")
    price_text = _require(raw, "unit_price", path, str)
    if not _PRICE.match(price_text):
        raise InvalidPayload(f'{path}.unit_price must be a decimal string such as "12.50"')
    try:
        price = Decimal(price_text)
    except InvalidOperation:  # pragma: no cover - the pattern already excludes this
        raise InvalidPayload(f"{path}.unit_price must be a decimal string") from None
    return OrderLine(sku.strip(), quantity, price)


def parse_mall_payload(
    body: bytes, store: Store, delivery_id: str, received_at: datetime
) -> OrderEvent:
    """Validate the contract and build the canonical event."""
    check_json_depth(body)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidPayload("body must be a JSON object")
    event_type = _require(payload, "type", "$", str)
    if event_type not in EVENT_TYPES:
        raise InvalidPayload(
            f"$.type '{event_type}' is not one of: " + ", ".join(sorted(EVENT_TYPES))
        )
    _time(payload, "timestamp", "$")
    data = _require(payload, "data", "$", dict)
    order_id = _require(data, "order_id", "$.data", str)
    status_text = _require(data, "status", "$.data", str)
    try:
        status = PlatformStatus(status_text)
    except ValueError:
        raise InvalidPayload(
            f"$.data.status '{status_text}' is not one of: "
            + ", ".join(s.value for s in PlatformStatus)
        ) from None
    updated_at, updated_at_raw = _time(data, "updated_at", "$.data")
    currency = _require(data, "currency", "$.data", str)
    if not _CURRENCY.match(currency):
        raise InvalidPayload('$.data.currency must be an ISO 4217 code such as "CNY"')
    raw_lines = _require(data, "lines", "$.data", list)
    if not raw_lines:
        raise InvalidPayload("$.data.lines must list at least one line")
    if len(raw_lines) > MAX_LINES:
        raise InvalidPayload(f"$.data.lines has {len(raw_lines)} lines; at most {MAX_LINES}")
    lines = tuple(_line(raw, f"$.data.lines[{i}]") for i, raw in enumerate(raw_lines))
    raw_buyer = _require(data, "buyer", "$.data", dict)
    optional = {}
    for key in ("email", "id_number"):
        value = raw_buyer.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidPayload(f"$.data.buyer.{key} must be a string")
        optional[key] = (value or "").strip()
    buyer = Buyer(
        name=_require(raw_buyer, "name", "$.data.buyer", str),
        phone=_require(raw_buyer, "phone", "$.data.buyer", str),
        address=_require(raw_buyer, "address", "$.data.buyer", str),
        email=optional["email"],
        id_number=optional["id_number"],
    )
    region = raw_buyer.get("region", "")
    if not isinstance(region, str):
        raise InvalidPayload("$.data.buyer.region must be a string (a warehouse region)")
    return OrderEvent(
        event_key=f"{store.platform}#{store.store_id}#{delivery_id}",
        platform=store.platform,
        store=store.store_id,
        order_id=order_id.strip(),
        event_type=EVENT_TYPES[event_type],
        status=status,
        updated_at=updated_at,
        updated_at_raw=updated_at_raw,
        currency=currency,
        lines=lines,
        buyer=buyer,
        received_at=received_at,
        region=region.strip(),
    )


class MallChannel:
    """Own-shop webhooks: Standard Webhooks signature, OrderHub's contract as payload.

    Secret: `{"webhook_secret": "whsec_..."}` (`"webhook_secrets": [...]` while rotating).
    Answer: 202 with the delivery id and the event key.
    """

    platform = "mall"

    def credentials(self, secret: Mapping[str, Any]) -> Credentials:
        return webhook_credentials(secret)

    def verify(self, delivery: Delivery, credentials: Credentials, now: datetime) -> str:
        return verify_standard_webhook(delivery.headers, delivery.body, credentials.secrets, now)

    def parse(self, delivery: Delivery, store: Store, delivery_id: str) -> list[OrderEvent]:
        if is_mall_refund(delivery.body):  # refund.*: after-sales, no order event in it
            return []
        return [parse_mall_payload(delivery.body, store, delivery_id, delivery.received_at)]

    def ack(self, delivery_id: str, events: Sequence[OrderEvent]) -> tuple[int, dict[str, Any]]:
        return accepted_reply(delivery_id, (e.event_key for e in events), 202)
