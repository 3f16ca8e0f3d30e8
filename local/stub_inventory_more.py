"""BigCommerce's and Amazon SP-API's inventory, catalog and order-list calls for the stub
platform (part of local/stub_inventory.py's `InventoryStub`, see there)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

if TYPE_CHECKING:
    from local.stub_inventory import StubStore


def _iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class BigCommerceAmazonApis:
    """Mixed into InventoryStub: uses its stores, lock, `find`, `by_id`, `push`, `day`."""

    stores: dict[tuple[str, str], StubStore]
    amazon_tokens: dict[str, str]

    if TYPE_CHECKING:
        import threading

        lock: threading.Lock

        def find(self, platform: str, **match: str) -> StubStore | None: ...

        def by_id(self, store: StubStore, name: str, value: str) -> str | None: ...

        def push(self, store: StubStore, sku: str, quantity: int, api: str, body: Any) -> None: ...

        def failing(self) -> int | None: ...

        def day(self, store: StubStore, start: datetime, end: datetime) -> list[dict[str, Any]]: ...

    # BigCommerce --------------------------------------------------------------------------

    def _bc_store(self, path: str, headers: dict[str, str]) -> StubStore | None:
        store_hash = path.split("/")[2]
        return self.find(
            "bigcommerce", store_hash=store_hash, access_token=headers.get("x-auth-token", "")
        )

    def _bc_adjust(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        store = self._bc_store(path, headers)
        if store is None:
            return (
                401,
                {
                    "status": 401,
                    "title": "Unauthorized: the X-Auth-Token is not valid for this store",
                    "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
                },
                {},
            )
        failing = self.failing()
        if failing is not None:
            return failing, {"status": failing, "title": "stub told to fail"}, {}
        body = json.loads(raw or b"{}")
        items = body.get("items") or []
        resolved = []
        for item in items:
            sku = (
                self.by_id(store, "variant_id", str(item.get("variant_id")))
                if "variant_id" in item
                else item.get("sku")
            )
            if sku not in store.listings:
                return (
                    422,
                    {
                        "status": 422,
                        "title": f"[Item with variant_id {item.get('variant_id')} is not found]",
                        "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
                        "errors": {},
                    },
                    {},
                )
            resolved.append((sku, int(item["quantity"]), item))
        with self.lock:
            for sku, quantity, item in resolved:
                self.push(store, sku, quantity, "inventory/adjustments/absolute", item)
        limits = {"X-Rate-Limit-Requests-Left": "149", "X-Rate-Limit-Time-Reset-Ms": "30000"}
        return 200, {"transaction_id": f"stub-{datetime.now(UTC).timestamp():.6f}"}, limits

    def _bc_variants(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        store = self._bc_store(path, headers)
        if store is None:
            return 401, {"status": 401, "title": "Unauthorized"}, {}
        sku = query.get("sku", "")
        ids = store.listings.get(sku)
        data = (
            []
            if not ids
            else [{"id": int(ids["variant_id"]), "product_id": int(ids["product_id"]), "sku": sku}]
        )
        return 200, {"data": data, "meta": {"pagination": {"total": len(data)}}}, {}

    def _bc_orders(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        store = self._bc_store(path, headers)
        if store is None:
            return (
                401,
                [{"status": 401, "message": "You must be authenticated to access this resource"}],
                {},
            )
        start, last = _iso(query["min_date_created"]), _iso(query["max_date_created"])
        rows = [o for o in store.day_orders if start <= o["created"] <= last]
        rows.sort(key=lambda o: (o["created"], str(o["id"])))
        size, page = int(query.get("limit") or 50), int(query.get("page") or 1)
        status = {
            "unpaid": (7, "Awaiting Payment"),
            "paid": (11, "Awaiting Fulfillment"),
            "shipped": (2, "Shipped"),
            "cancelled": (5, "Cancelled"),
            "refunded": (4, "Refunded"),
        }
        listed = [
            {
                "id": int(o["id"]),
                "status_id": status[o["status"]][0],
                "status": status[o["status"]][1],
                "total_inc_tax": str(o["amount"]),
                "currency_code": o.get("currency", "USD"),
                "date_created": format_datetime(o["created"]),
            }
            for o in rows[(page - 1) * size : page * size]
        ]
        if not listed:
            return 204, None, {}
        return 200, listed, {}

    # Amazon -------------------------------------------------------------------------------

    def _lwa(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8")).items()}
        store = self.find(
            "amazon",
            lwa_client_id=form.get("client_id", ""),
            lwa_client_secret=form.get("client_secret", ""),
            refresh_token=form.get("refresh_token", ""),
        )
        if form.get("grant_type") != "refresh_token" or store is None:
            return (
                400,
                {
                    "error": "invalid_grant",
                    "error_description": (
                        "The request has an invalid grant parameter : refresh_token"
                    ),
                },
                {},
            )
        token = f"Atza|stub-{store.store_id}-{datetime.now(UTC).timestamp():.0f}"
        with self.lock:
            self.amazon_tokens[token] = store.store_id
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": 3600}, {}

    def _amazon_store(
        self, path: str, headers: dict[str, str]
    ) -> tuple[StubStore | None, tuple[int, Any, dict[str, str]] | None]:
        store_id = self.amazon_tokens.get(headers.get("x-amz-access-token", ""))
        if store_id is None:
            return None, (
                403,
                {
                    "errors": [
                        {
                            "code": "Unauthorized",
                            "message": "Access to requested resource is denied.",
                            "details": (
                                "The access token you provided is revoked, malformed or invalid."
                            ),
                        }
                    ]
                },
                {},
            )
        store = self.stores.get(("amazon", store_id))
        parts = path.split("/")
        if (
            len(parts) > 4
            and parts[1] == "listings"
            and unquote(parts[4])
            != (store.credentials.get("seller_id") or store_id if store else "")
        ):
            return None, (
                403,
                {
                    "errors": [
                        {
                            "code": "Unauthorized",
                            "message": "Access to requested resource is denied.",
                        }
                    ]
                },
                {},
            )
        return store, None

    def _amazon_patch(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        store, refused = self._amazon_store(path, headers)
        if refused is not None or store is None:
            return refused or (403, {}, {})
        failing = self.failing()
        if failing is not None:
            return (
                failing,
                {"errors": [{"code": "InternalFailure", "message": "stub told to fail"}]},
                {},
            )
        sku = unquote(path.split("/")[5])
        body = json.loads(raw or b"{}")
        if sku not in store.listings:
            return (
                404,
                {
                    "errors": [
                        {"code": "NOT_FOUND", "message": f"SKU '{sku}' not found in marketplace"}
                    ]
                },
                {},
            )
        patches = body.get("patches") or []
        value = next(
            (
                p.get("value")
                for p in patches
                if p.get("path") == "/attributes/fulfillment_availability"
            ),
            None,
        )
        if not body.get("productType") or not value or "quantity" not in value[0]:
            return (
                400,
                {
                    "errors": [
                        {
                            "code": "BAD_REQUEST",
                            "message": "Invalid input",
                            "details": "Invalid input",
                        }
                    ]
                },
                {},
            )
        with self.lock:
            self.push(store, sku, int(value[0]["quantity"]), "patchListingsItem", body)
        return (
            200,
            {"sku": sku, "status": "ACCEPTED", "submissionId": f"stub-{sku}", "issues": []},
            {},
        )

    def _amazon_get(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        store, refused = self._amazon_store(path, headers)
        if refused is not None or store is None:
            return refused or (403, {}, {})
        sku = unquote(path.split("/")[5])
        ids = store.listings.get(sku)
        if ids is None:
            return 404, {"errors": [{"code": "NOT_FOUND", "message": f"SKU '{sku}' not found"}]}, {}
        summary = {
            "marketplaceId": query.get("marketplaceIds", ""),
            "productType": ids["product_type"],
            "status": ["BUYABLE"],
        }
        return 200, {"sku": sku, "summaries": [summary]}, {}

    def _amazon_orders(
        self, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        store, refused = self._amazon_store(path, headers)
        if refused is not None or store is None:
            return refused or (403, {}, {})
        rows = self.day(store, _iso(query["createdAfter"]), _iso(query["createdBefore"]))
        start = int(query.get("paginationToken") or 0)
        size = int(query.get("maxResultsPerPage") or 100)
        status = {
            "unpaid": "PENDING",
            "paid": "UNSHIPPED",
            "shipped": "SHIPPED",
            "cancelled": "CANCELLED",
            "refunded": "CANCELLED",
        }
        orders = [
            {
                "orderId": str(o["id"]),
                "createdTime": o["created"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                "fulfillment": {"fulfillmentStatus": status[o["status"]]},
                "proceeds": {
                    "grandTotal": {
                        "amount": str(o["amount"]),
                        "currencyCode": o.get("currency", "USD"),
                    }
                },
            }
            for o in rows[start : start + size]
        ]
        answer: dict[str, Any] = {"orders": orders}
        if start + size < len(rows):
            answer["pagination"] = {"nextToken": str(start + size)}
        return 200, answer, {}
