"""The local stack's Amazon Orders API (local/stub_amazon_orders.py) against OrderHub's real
SP-API client: tokens from the stub's LWA endpoint only, Amazon's sample answers with the
seeded order laid over them, items paged with NextToken, getOrders filtered by update time
and refusing a `LastUpdatedBefore` under 2 minutes old, 404 and 429 as Amazon answers them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from chalicelib.adapters.amazon_orders import (
    AmazonOrderApi,
    AmazonRecentOrders,
    SpApiClient,
)
from chalicelib.domain.details import OrderDetailsUnavailable, OrderNotOnPlatform
from chalicelib.domain.polling import PlatformRequestRejected, Window
from chalicelib.domain.ports import Store
from local.stub_platform import StubPlatform
from tests.conftest import ROOT

SEED = json.loads((ROOT / "local" / "seed.json").read_text(encoding="utf-8"))
SELLER = next(s for s in SEED["stores"] if s["platform"] == "amazon")
STORE = Store("amazon", SELLER["store_id"], "orderhub/stores/amazon/" + SELLER["store_id"])


class Secrets:
    def __init__(self, secret: dict[str, Any]) -> None:
        self.secret = secret

    def get_secret(self, name: str) -> dict[str, Any]:
        return self.secret


@pytest.fixture(scope="module")
def stub() -> Iterator[str]:
    platform = StubPlatform(port=0).start()
    try:
        yield platform.url
    finally:
        platform.stop()


def seed(stub: str, order_id: str, updated: datetime, items: list[dict[str, Any]], **more: Any):
    body = {
        "seller_id": STORE.store_id,
        "order": {
            "AmazonOrderId": order_id,
            "OrderStatus": "Shipped",
            "LastUpdateDate": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "items": items,
        **more,
    }
    answer = requests.post(f"{stub}/_stub/amazon/orders", json=body, timeout=5)
    assert answer.status_code == 201, answer.text


def item(sku: str, quantity: int, price: str) -> dict[str, Any]:
    money = {"CurrencyCode": "EUR", "Amount": price}
    return {"SellerSKU": sku, "QuantityOrdered": quantity, "ItemPrice": money}


def client(stub: str, **options: Any) -> SpApiClient:
    return SpApiClient(stub, f"{stub}/auth/o2/token", **options)


def test_a_seeded_order_is_answered_over_amazons_sample_and_paged(stub):
    seed(
        stub,
        "028-0000001-0000001",
        datetime.now(UTC) - timedelta(minutes=10),
        [item("TEA-LONGJING-250G", 2, "19.80"), item("KETTLE-CLAY-1L", 1, "45.00")],
        items_per_page=1,
    )
    details = AmazonOrderApi(Secrets(SELLER["credentials"]), client(stub)).fetch(
        STORE, "028-0000001-0000001"
    )
    assert details.status.value == "shipped" and details.currency == "EUR"
    assert [(li.sku, li.quantity, str(li.unit_price)) for li in details.lines] == [
        ("TEA-LONGJING-250G", 2, "9.90"),
        ("KETTLE-CLAY-1L", 1, "45.00"),
    ]
    calls = requests.get(f"{stub}/_stub/amazon/calls", timeout=5).json()
    assert [c["operation"] for c in calls[-3:]] == ["getOrder", "getOrderItems", "getOrderItems"]
    raw = requests.get(
        f"{stub}/orders/v0/orders/028-0000001-0000001",
        headers={"x-amz-access-token": "Atza|not-issued"},
        timeout=5,
    )
    assert raw.status_code == 403 and raw.json()["errors"][0]["code"] == "Unauthorized"


def test_an_unknown_order_is_404_and_a_wrong_refresh_token_is_refused(stub):
    orders = AmazonOrderApi(Secrets(SELLER["credentials"]), client(stub))
    with pytest.raises(OrderNotOnPlatform, match="NotFound"):
        orders.fetch(STORE, "028-9999999-9999999")
    wrong = AmazonOrderApi(Secrets({**SELLER["credentials"], "refresh_token": "x"}), client(stub))
    with pytest.raises(OrderDetailsUnavailable, match="invalid_grant"):
        wrong.fetch(STORE, "028-9999999-9999999")


def test_throttling_is_answered_as_amazon_does_and_waited_for(stub):
    seed(stub, "028-0000002-0000002", datetime.now(UTC), [item("CUP-CELADON-2PK", 1, "5.00")])
    requests.post(f"{stub}/_stub/amazon/throttle", json={"count": 1}, timeout=5)
    slept: list[float] = []
    orders = AmazonOrderApi(Secrets(SELLER["credentials"]), client(stub, sleep=slept.append))
    assert orders.fetch(STORE, "028-0000002-0000002").lines
    assert slept == [2.0]  # no Retry-After: one request of the stub's 0.5 per second


def test_get_orders_lists_by_update_time_and_refuses_a_too_recent_end(stub):
    now = datetime.now(UTC).replace(microsecond=0)
    seed(
        stub, "028-0000003-0000003", now - timedelta(minutes=20), [item("CUP-CELADON-2PK", 1, "5")]
    )
    seed(stub, "028-0000004-0000004", now - timedelta(hours=3), [item("CUP-CELADON-2PK", 1, "5")])
    source = AmazonRecentOrders(
        Secrets(SELLER["credentials"]), client(stub), STORE, lambda o, t: False, lambda: now
    )
    window = Window(now - timedelta(minutes=30), now - timedelta(minutes=3))
    listed = [e.order_id for batch in source.batches(window) for e in batch.events]
    assert "028-0000003-0000003" in listed and "028-0000004-0000004" not in listed
    with pytest.raises(PlatformRequestRejected, match="2 minutes"):
        list(source.batches(Window(now - timedelta(minutes=30), now)))
