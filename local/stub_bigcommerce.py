"""BigCommerce's v2 Orders API as OrderHub reads it, for the stub platform (local/stub_platform.py).

Served by the stub platform's server (the functions get its URL as
`ORDERHUB_BIGCOMMERCE_API_URL`):

- `GET /stores/{store_hash}/v2/orders/{id}` and `.../orders/{id}/products` (`limit`, at most
  250, default 50, and `page`; an empty page answers 204 as BigCommerce does), with
  `X-Auth-Token`: 401 when the token is not the one seeded for that store hash, 404 for an
  order not seeded; errors in BigCommerce's v2 shape (`[{"status", "message"}]`);
- `POST /_stub/bigcommerce/orders {"store_hash", "access_token", "order": {"id", ...},
  "products": [...]}`: seed (or replace) an order, as BigCommerce would answer for it;
- `POST /_stub/bigcommerce/fail {"status": 503, "count": N}`: answer the next N API GETs
  with that status (count null: until told `{"count": 0}`).

Seeded orders survive `POST /_stub/reset` (which is about stock pushes). Standard library only.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

DEFAULT_LIMIT = 50
MAX_LIMIT = 250


def _error(status: int, message: str) -> tuple[int, Any]:
    return status, [{"status": status, "message": message}]


class BigCommerceStub:
    """Seeded orders per store hash, the access token each hash takes, a failure mode, and
    the GETs served (for tests)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[tuple[str, str], tuple[dict[str, Any], list[Any]]] = {}
        self._tokens: dict[str, str] = {}
        self._fail_status = 503
        self._fail_left: int | None = 0  # None: fail until told otherwise
        self.requests: list[str] = []

    def seed(
        self, store_hash: str, access_token: str, order: Mapping[str, Any], products: list[Any]
    ) -> str:
        """Seed an order (replacing one with its id); returns its id as text."""
        order_id = str(order["id"])
        body = dict(order)
        body.setdefault(
            "products",
            {"url": f"/stores/{store_hash}/v2/orders/{order_id}/products", "resource": ""},
        )
        with self._lock:
            self._tokens[store_hash] = access_token
            self._orders[(store_hash, order_id)] = (body, list(products))
        return order_id

    def fail(self, status: int, count: int | None) -> None:
        with self._lock:
            self._fail_status = status
            self._fail_left = count

    def get(self, path: str, query: str, token: str) -> tuple[int, Any]:
        """The answer (status, JSON body; None for 204) to a GET under /stores/."""
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if len(parts) not in (5, 6) or parts[2:4] != ["v2", "orders"]:
            return _error(404, f"no such resource {path} on the stub's BigCommerce API")
        if len(parts) == 6 and parts[5] != "products":
            return _error(404, f"no such resource {path} on the stub's BigCommerce API")
        store_hash, order_id = parts[1], parts[4]
        with self._lock:
            self.requests.append(path + (f"?{query}" if query else ""))
            if self._fail_left is None or self._fail_left > 0:
                if self._fail_left is not None:
                    self._fail_left -= 1
                return _error(self._fail_status, "told to fail")
            expected = self._tokens.get(store_hash)
            if expected is None or token != expected:
                return _error(401, "You are not authorized to access this resource.")
            seeded = self._orders.get((store_hash, order_id))
        if seeded is None:
            return _error(404, "The requested resource was not found.")
        order, products = seeded
        if len(parts) == 5:
            return 200, order
        params = parse_qs(query)
        try:
            limit = min(MAX_LIMIT, max(1, int(params.get("limit", [DEFAULT_LIMIT])[0])))
            page = max(1, int(params.get("page", ["1"])[0]))
        except ValueError:
            return _error(400, "limit and page must be whole numbers")
        chunk = products[(page - 1) * limit : page * limit]
        return (200, chunk) if chunk else (204, None)

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        """The answer to `POST /_stub/bigcommerce/...`."""
        if not isinstance(body, dict):
            return 400, {"error": "invalid_payload", "message": "body must be a JSON object"}
        if path == "/_stub/bigcommerce/fail":
            count = body.get("count")
            self.fail(int(body.get("status", 503)), None if count is None else int(count))
            return 200, {"status": "failing", "count": count}
        if path != "/_stub/bigcommerce/orders":
            return 404, {"error": "not_found", "message": f"no POST {path}"}
        order, products = body.get("order"), body.get("products", [])
        store_hash, token = body.get("store_hash"), body.get("access_token")
        if not (isinstance(store_hash, str) and store_hash and isinstance(token, str) and token):
            message = "store_hash and access_token must be non-empty strings"
            return 400, {"error": "invalid_payload", "message": message}
        if not isinstance(order, dict) or order.get("id") is None:
            return 400, {"error": "invalid_payload", "message": "order must be an object with id"}
        if not isinstance(products, list):
            return 400, {"error": "invalid_payload", "message": "products must be an array"}
        order_id = self.seed(store_hash, token, order, products)
        return 201, {"status": "seeded", "store_hash": store_hash, "order_id": order_id}
