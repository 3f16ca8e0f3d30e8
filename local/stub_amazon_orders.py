"""Amazon SP-API Orders v0 for the local stack's stub platform (local/stub_inventory.py routes
to it; the LWA token endpoint `POST /auth/o2/token` is local/stub_inventory_more.py's, and
its access tokens are the ones these calls take in `x-amz-access-token`).

- `GET /orders/v0/orders/{orderId}` (getOrder), `GET /orders/v0/orders/{orderId}/orderItems`
  (getOrderItems, paged with `NextToken`), `GET /orders/v0/orders` (getOrders: `MarketplaceIds`
  required, `LastUpdatedAfter` required, `LastUpdatedBefore` no later than 2 minutes ago as
  Amazon insists, `FulfillmentChannels`, `MaxResultsPerPage` ≤ 100, `NextToken`). Answers are
  Amazon's own sandbox samples (tests/fixtures/amazon/getOrder_sandbox200.json,
  getOrderItems_sandbox200.json) with the seeded order's fields laid over them; errors in
  SP-API's shape (`{"errors": [{"code", "message"}]}`): 403 for a token LWA did not issue,
  404 for an order not seeded for that seller, 400 for a bad getOrders query.
- `POST /_stub/amazon/orders {"seller_id", "order": {"AmazonOrderId", "OrderStatus",
  "LastUpdateDate", ...}, "items": [{"SellerSKU", "QuantityOrdered", "ItemPrice": {...},
  ...}], "items_per_page": 100}`: seed (or replace) an order as Amazon would answer for it.
- `POST /_stub/amazon/throttle {"count": N, "retry_after": "1"}`: answer the next N Orders
  calls with 429 (with `Retry-After` when given, and `x-amzn-RateLimit-Limit: 0.5`).
- `GET /_stub/amazon/calls`: the Orders calls served, oldest first (`operation`, `path`).
Standard library only.
"""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "amazon"
MAX_PAGE = 100
AMOUNTS = {"ItemPrice", "ItemTax", "PromotionDiscount", "ShippingPrice", "ShippingTax"}

Answer = tuple[int, Any, dict[str, str]]


class _Tokens(Protocol):
    amazon_tokens: dict[str, str]


def _errors(status: int, code: str, message: str) -> Answer:
    return status, {"errors": [{"code": code, "message": message}]}, {}


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sample(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name).read_text(encoding="utf-8"))["payload"])


class AmazonOrdersStub:
    """Seeded orders per seller (store id), a throttle, and the calls served."""

    def __init__(self, tokens: _Tokens) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()
        self._order_sample = _sample("getOrder_sandbox200.json")
        self._item_sample = _sample("getOrderItems_sandbox200.json")["OrderItems"][0]
        self._orders: dict[tuple[str, str], tuple[dict[str, Any], list[Any], int]] = {}
        self._throttle = 0
        self._retry_after: str | None = None
        self.calls: list[dict[str, str]] = []

    # ---- control ------------------------------------------------------------------------

    def seed(
        self, seller_id: str, order: dict[str, Any], items: list[Any], per_page: int = MAX_PAGE
    ) -> str:
        """Seed an order (the sample with `order`'s fields over it); returns its id."""
        # the sample's own amounts are not this order's: only the seeded ones are answered
        answer = {k: v for k, v in copy.deepcopy(self._order_sample).items() if k != "OrderTotal"}
        answer.update(order)
        base = {k: v for k, v in self._item_sample.items() if k not in AMOUNTS}
        full = [{**copy.deepcopy(base), **item} for item in items]
        with self._lock:
            self._orders[(seller_id, str(answer["AmazonOrderId"]))] = (answer, full, per_page)
        return str(answer["AmazonOrderId"])

    def control(self, path: str, body: Any) -> tuple[int, Any] | None:
        if path == "/_stub/amazon/throttle":
            with self._lock:
                self._throttle = int(body.get("count") or 0)
                after = body.get("retry_after")
                self._retry_after = None if after is None else str(after)
            return 200, {"throttling": self._throttle}
        if path != "/_stub/amazon/orders":
            return None
        order, items = body.get("order"), body.get("items", [])
        seller = body.get("seller_id")
        if not isinstance(seller, str) or not seller:
            return 400, {"error": "invalid_payload", "message": "seller_id must be a string"}
        if not isinstance(order, dict) or not order.get("AmazonOrderId"):
            message = "order must be an object with AmazonOrderId"
            return 400, {"error": "invalid_payload", "message": message}
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and i.get("SellerSKU") for i in items
        ):
            message = "items must be objects with SellerSKU"
            return 400, {"error": "invalid_payload", "message": message}
        per_page = max(1, min(MAX_PAGE, int(body.get("items_per_page") or MAX_PAGE)))
        order_id = self.seed(seller, order, items, per_page)
        return 201, {"status": "seeded", "seller_id": seller, "AmazonOrderId": order_id}

    def calls_answer(self) -> Answer:
        with self._lock:
            return 200, list(self.calls), {}

    # ---- the API ------------------------------------------------------------------------

    def _gate(
        self, operation: str, path: str, headers: dict[str, str]
    ) -> tuple[str, Answer | None]:
        """(seller, None) when the call may go on; else the refusal to answer."""
        seller = self._tokens.amazon_tokens.get(headers.get("x-amz-access-token", ""))
        with self._lock:
            self.calls.append({"operation": operation, "path": path})
            if seller is None:
                refused = _errors(403, "Unauthorized", "Access to requested resource is denied.")
                return "", refused
            if self._throttle > 0:
                self._throttle -= 1
                extra = {"x-amzn-RateLimit-Limit": "0.5"}
                if self._retry_after is not None:
                    extra["Retry-After"] = self._retry_after
                status, body, _ = _errors(429, "QuotaExceeded", "You exceeded your quota.")
                return "", (status, body, extra)
        return seller, None

    def get_order(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Answer:
        seller, refused = self._gate("getOrder", path, headers)
        if refused is not None:
            return refused
        with self._lock:
            seeded = self._orders.get((seller, unquote(path.split("/")[4])))
        if seeded is None:
            return _errors(404, "NotFound", "Invalid AmazonOrderId")
        return 200, {"payload": seeded[0]}, {"x-amzn-RateLimit-Limit": "0.5"}

    def get_items(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Answer:
        seller, refused = self._gate("getOrderItems", path, headers)
        if refused is not None:
            return refused
        order_id = unquote(path.split("/")[4])
        with self._lock:
            seeded = self._orders.get((seller, order_id))
        if seeded is None:
            return _errors(404, "NotFound", "Invalid AmazonOrderId")
        _, items, per_page = seeded
        try:
            start = int(query.get("NextToken") or 0)
        except ValueError:
            return _errors(400, "InvalidInput", "Invalid NextToken")
        payload: dict[str, Any] = {
            "AmazonOrderId": order_id,
            "OrderItems": items[start : start + per_page],
        }
        if start + per_page < len(items):
            payload["NextToken"] = str(start + per_page)
        return 200, {"payload": payload}, {"x-amzn-RateLimit-Limit": "0.5"}

    def get_orders(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Answer:
        seller, refused = self._gate("getOrders", path, headers)
        if refused is not None:
            return refused
        markets = {m for m in query.get("MarketplaceIds", "").split(",") if m}
        if not markets:
            return _errors(400, "InvalidInput", "MarketplaceIds is required")
        try:
            after = _time(query["LastUpdatedAfter"])
            before = _time(query.get("LastUpdatedBefore") or "")
        except (KeyError, ValueError):
            return _errors(
                400, "InvalidInput", "LastUpdatedAfter and LastUpdatedBefore are required"
            )
        if before > datetime.now(UTC) - timedelta(minutes=2):
            return _errors(
                400, "InvalidInput", "LastUpdatedBefore must be at least 2 minutes before now"
            )
        channels = {c for c in query.get("FulfillmentChannels", "").split(",") if c}
        with self._lock:
            rows = [
                order
                for (owner, _), (order, _, _) in self._orders.items()
                if owner == seller
                and order.get("MarketplaceId") in markets
                and after <= _time(order["LastUpdateDate"]) <= before
                and (not channels or order.get("FulfillmentChannel") in channels)
            ]
        rows.sort(key=lambda o: (_time(o["LastUpdateDate"]), o["AmazonOrderId"]))
        size = max(1, min(MAX_PAGE, int(query.get("MaxResultsPerPage") or MAX_PAGE)))
        start = int(query.get("NextToken") or 0)
        payload: dict[str, Any] = {"Orders": rows[start : start + size]}
        if start + size < len(rows):
            payload["NextToken"] = str(start + size)
        return 200, {"payload": payload}, {"x-amzn-RateLimit-Limit": "0.0167"}
