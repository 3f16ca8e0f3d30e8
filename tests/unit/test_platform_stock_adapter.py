"""The platform stock adapter over a fake network: listings looked up once and kept, an
unmapped SKU refused (never guessed), a gone listing dropped, 429/5xx retried with backoff
then left pending, rate limits spacing the calls, Amazon's LWA token fetched once; and the
listing refresh run."""

from __future__ import annotations

import io
import json
import urllib.error
from datetime import UTC, datetime
from email.message import Message

import pytest

from chalicelib.adapters.channel_push import StockPushRouter
from chalicelib.adapters.platform_stock import PlatformStockPush, RateGate
from chalicelib.channels.amazon_stock import AmazonStock
from chalicelib.channels.bigcommerce_stock import BigCommerceStock
from chalicelib.channels.shopify_stock import ShopifyStock
from chalicelib.domain.errors import ChannelRejected, ChannelUnavailable
from chalicelib.domain.listings import Listing, ListingUnmapped, refresh_listings
from chalicelib.domain.ports import Store, StoreRules
from tests.fakes import FakeCatalog, FakeSecrets

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class FakeListings:
    def __init__(self):
        self.items = {}

    def get(self, platform, store_id, sku):
        return self.items.get((platform, store_id, sku))

    def put(self, listing):
        self.items[(listing.platform, listing.store_id, listing.sku)] = listing

    def for_store(self, platform, store_id):
        return [v for (p, s, _), v in self.items.items() if (p, s) == (platform, store_id)]


class Response(io.BytesIO):
    def __init__(self, status, body, headers=None):
        super().__init__(json.dumps(body).encode() if body is not None else b"")
        self.status = status
        self.headers = headers or {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Network:
    """Answers requests from a script: a list of (status, body[, headers]) per call."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, request, timeout):
        self.requests.append(request)
        status, body, *rest = self.answers.pop(0)
        headers = rest[0] if rest else {}
        if status >= 400:
            message = Message()
            for k, v in headers.items():
                message[k] = v
            raise urllib.error.HTTPError(
                request.full_url, status, "x", message, io.BytesIO(json.dumps(body).encode())
            )
        return Response(status, body, headers)


def world(api, secret, answers, platform=None):
    platform = platform or api.platform
    store = Store(platform, "s1", f"orderhub/{platform}/s1")
    catalog = FakeCatalog()
    catalog.put_store(store)
    sleeps = []
    net = Network(answers)
    adapter = PlatformStockPush(
        api,
        FakeSecrets({store.secret_name: secret}),
        catalog,
        FakeListings(),
        "https://api.example",
        opener=net,
        now=lambda: NOW,
        gate=RateGate(clock=lambda: 0.0, sleep=sleeps.append),
        sleep=sleeps.append,
    )
    return adapter, net, sleeps


SHOPIFY_SECRET = {"shop_domain": "x.myshopify.com", "admin_api_token": "shpat"}
FOUND = {
    "data": {
        "productVariants": {
            "nodes": [
                {
                    "id": "gid://shopify/ProductVariant/1",
                    "sku": "TEA",
                    "inventoryItem": {
                        "id": "gid://shopify/InventoryItem/9",
                        "inventoryLevels": {
                            "nodes": [{"location": {"id": "gid://shopify/Location/5"}}]
                        },
                    },
                }
            ]
        }
    }
}
SET_OK = {"data": {"inventorySetQuantities": {"inventoryAdjustmentGroup": {}, "userErrors": []}}}


def test_a_sku_is_looked_up_once_then_pushed_by_its_listing_ids():
    adapter, net, _ = world(
        ShopifyStock(), SHOPIFY_SECRET, [(200, FOUND), (200, SET_OK), (200, SET_OK)]
    )
    adapter.push("shopify", "s1", "TEA", 7)
    adapter.push("shopify", "s1", "TEA", 6)
    assert len(net.requests) == 3  # one lookup, two pushes
    sent = json.loads(net.requests[2].data)["variables"]["input"]["quantities"]
    assert sent == [
        {
            "inventoryItemId": "gid://shopify/InventoryItem/9",
            "locationId": "gid://shopify/Location/5",
            "quantity": 6,
        }
    ]
    assert net.requests[1].full_url == "https://api.example/admin/api/2025-07/graphql.json"


def test_an_unmapped_sku_is_refused_naming_the_store_and_the_fix_and_not_searched_again_at_once():
    adapter, net, _ = world(
        ShopifyStock(), SHOPIFY_SECRET, [(200, {"data": {"productVariants": {"nodes": []}}})]
    )
    with pytest.raises(ListingUnmapped, match=r"shopify store s1.*refresh") as refused:
        adapter.push("shopify", "s1", "GHOST", 3)
    assert "seller SKU" in refused.value.message
    with pytest.raises(ListingUnmapped):
        adapter.push("shopify", "s1", "GHOST", 2)
    assert len(net.requests) == 1  # unmapped is remembered for an hour


def test_a_gone_listing_is_dropped_from_the_map_and_reported():
    gone = {
        "data": {
            "inventorySetQuantities": {
                "userErrors": [
                    {
                        "code": "INVALID_INVENTORY_ITEM",
                        "field": ["input", "quantities", "0", "inventoryItemId"],
                        "message": "gone",
                    }
                ]
            }
        }
    }
    adapter, _, _ = world(ShopifyStock(), SHOPIFY_SECRET, [(200, FOUND), (200, gone)])
    with pytest.raises(ChannelRejected, match="INVALID_INVENTORY_ITEM"):
        adapter.push("shopify", "s1", "TEA", 1)
    assert adapter._listings.get("shopify", "s1", "TEA").mapped is False


def test_429_and_5xx_are_retried_with_backoff_and_retry_after():
    adapter, net, sleeps = world(
        ShopifyStock(),
        SHOPIFY_SECRET,
        [(200, FOUND), (429, {}, {"Retry-After": "1.5"}), (503, {}), (200, SET_OK)],
    )
    adapter.push("shopify", "s1", "TEA", 1)
    assert len(net.requests) == 4
    assert 1.5 in sleeps and 0.4 in sleeps  # Retry-After, then 0.2 x 2


def test_a_platform_still_failing_after_three_attempts_leaves_the_push_pending():
    adapter, _net, _ = world(
        ShopifyStock(), SHOPIFY_SECRET, [(200, FOUND), (503, {}), (502, {}), (500, {})]
    )
    with pytest.raises(ChannelUnavailable, match="after 3 attempts"):
        adapter.push("shopify", "s1", "TEA", 1)


def test_shopify_throttled_inside_a_200_is_retried():
    throttled = {
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {
            "cost": {
                "requestedQueryCost": 60,
                "throttleStatus": {"currentlyAvailable": 10, "restoreRate": 50},
            }
        },
    }
    adapter, net, sleeps = world(
        ShopifyStock(), SHOPIFY_SECRET, [(200, FOUND), (200, throttled), (200, SET_OK)]
    )
    adapter.push("shopify", "s1", "TEA", 1)
    assert 1.0 in sleeps and len(net.requests) == 3


def test_calls_to_one_store_are_spaced_by_the_platforms_rate():
    waits = []
    clock = [0.0]
    gate = RateGate(clock=lambda: clock[0], sleep=waits.append)
    for _ in range(3):
        gate.wait("shopify/s1", 2.0)
    assert waits == [0.5, 1.0]
    gate.hold("bigcommerce/s1", 30.0)  # its quota window is spent
    gate.wait("bigcommerce/s1", 4.0)
    assert waits[-1] == 30.0


def test_bigcommerce_batch_refused_is_resent_item_by_item():
    secret = {"store_hash": "h", "access_token": "t"}
    refused = {"status": 422, "title": "[Item with variant_id 106 is tracked by product]"}
    adapter, net, _ = world(
        BigCommerceStock(),
        secret,
        [
            (200, {"data": [{"id": 106, "product_id": 1, "sku": "A"}]}),
            (200, {"data": [{"id": 107, "product_id": 2, "sku": "B"}]}),
            (422, refused),
            (422, refused),
            (200, {"transaction_id": "x"}),
        ],
    )
    results = adapter.push_many("bigcommerce", "s1", [("A", 1), ("B", 2)])
    assert isinstance(results["A"], ChannelRejected) and results["B"] is None
    assert [
        json.loads(r.data)["items"][0].get("variant_id") for r in net.requests[2:] if r.data
    ] == [106, 106, 107]


def test_amazon_gets_its_lwa_token_once_and_sends_it():
    secret = {
        "lwa_client_id": "c",
        "lwa_client_secret": "s",
        "refresh_token": "r",
        "marketplace_id": "M",
    }
    summary = {"sku": "TEA", "summaries": [{"productType": "HOME"}]}
    accepted = {"sku": "TEA", "status": "ACCEPTED", "issues": []}
    adapter, net, _ = world(
        AmazonStock("https://lwa.example/token"),
        secret,
        [
            (200, {"access_token": "Atza|1", "expires_in": 3600}),
            (200, summary),
            (200, accepted),
            (200, accepted),
        ],
    )
    adapter.push("amazon", "s1", "TEA", 4)
    adapter.push("amazon", "s1", "TEA", 3)
    assert [r.full_url.split("?")[0] for r in net.requests] == [
        "https://lwa.example/token",
        "https://api.example/listings/2021-08-01/items/s1/TEA",
        "https://api.example/listings/2021-08-01/items/s1/TEA",
        "https://api.example/listings/2021-08-01/items/s1/TEA",
    ]
    assert all(r.get_header("X-amz-access-token") == "Atza|1" for r in net.requests[1:])


def test_a_store_without_credentials_is_refused_naming_the_secret():
    adapter, _, _ = world(ShopifyStock(), {}, [])
    with pytest.raises(ChannelRejected, match=r"orderhub/shopify/s1.*admin_api_token"):
        adapter.push("shopify", "s1", "TEA", 1)


def test_the_router_sends_marketplaces_to_their_adapter_and_own_shops_to_the_generic_one():
    class Recorder:
        def __init__(self):
            self.calls = []

        def push(self, platform, store_id, sku, quantity):
            self.calls.append((platform, store_id, sku, quantity))

    shopify, generic = Recorder(), Recorder()
    router = StockPushRouter({"shopify": shopify}, generic)
    assert router.push_many("shopify", "s", [("A", 1), ("B", 2)]) == {"A": None, "B": None}
    router.push("mall", "shop", "A", 3)
    assert shopify.calls == [("shopify", "s", "A", 1), ("shopify", "s", "B", 2)]
    assert generic.calls == [("mall", "shop", "A", 3)]


def test_refresh_maps_what_is_listed_reports_what_is_not_and_survives_a_failing_store():
    listings, opened = FakeListings(), []

    class Lookup:
        def lookup(self, store, sku):
            if store.store_id == "down":
                raise ChannelUnavailable("down")
            return (
                Listing(store.platform, store.store_id, sku, {"id": "1"}) if sku == "TEA" else None
            )

    stores = [Store("shopify", "s1", "x"), Store("shopify", "down", "x"), Store("mall", "own", "x")]
    summary = refresh_listings(
        stores,
        ["TEA", "CUP"],
        {"shopify": Lookup()},
        listings,
        lambda a, at: opened.append(a),
        lambda: NOW,
    )
    assert summary.mapped == 1 and summary.unmapped == ["shopify/s1: CUP"]
    assert [a.key for a in opened] == ["stock_push_rejected#CUP#shopify#s1"]
    assert "P2" in opened[0].priority.value and "refresh" in opened[0].detail
    assert len(summary.errors) == 2 and summary.stores == 2
    assert listings.get("shopify", "s1", "TEA").ids == {"id": "1"}
    assert listings.get("shopify", "s1", "CUP").mapped is False


def test_amazon_fetches_a_new_token_once_when_its_token_is_refused():
    secret = {"lwa_client_id": "c", "lwa_client_secret": "s", "refresh_token": "r"}
    summary = {"sku": "TEA", "summaries": [{"productType": "HOME"}]}
    denied = {
        "errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied."}]
    }
    adapter, net, _ = world(
        AmazonStock("https://lwa.example/token"),
        secret,
        [
            (200, {"access_token": "Atza|old", "expires_in": 3600}),
            (200, summary),
            (403, denied),
            (200, {"access_token": "Atza|new", "expires_in": 3600}),
            (200, {"sku": "TEA", "status": "ACCEPTED", "issues": []}),
        ],
    )
    adapter.push("amazon", "s1", "TEA", 2)
    assert net.requests[-1].get_header("X-amz-access-token") == "Atza|new"


def test_taobao_call_quota_is_waited_out_for_as_long_as_the_ban_says():
    from chalicelib.channels.router_stock import TaobaoStock

    limited = {
        "error_response": {
            "code": 7,
            "msg": "App Call Limited",
            "sub_code": "accesscontrol.limited-by-app-access-count",
            "sub_msg": "This ban will last for 1 more seconds",
        }
    }
    found = {
        "skus_custom_get_response": {
            "skus": {"sku": [{"sku_id": 5, "num_iid": 6, "outer_id": "TEA"}]}
        }
    }
    done = {"item_quantity_update_response": {"item": {"num_iid": 6}}}
    adapter, net, sleeps = world(
        TaobaoStock(),
        {"app_key": "k", "app_secret": "s", "session": "x"},
        [(200, found), (200, limited), (200, done)],
    )
    adapter.push("taobao", "s1", "TEA", 4)
    assert 1.0 in sleeps and len(net.requests) == 3


def test_a_table_mapped_store_is_searched_by_the_channel_skus_its_map_gives():
    table = Store("shopify", "s1", "orderhub/shopify/s1", rules=StoreRules(sku_mapping="table"))
    adapter, net, _ = world(ShopifyStock(), SHOPIFY_SECRET, [(200, {**FOUND}), (200, SET_OK)])
    adapter._catalog.put_store(table)
    adapter._catalog.put_sku_mapping("shopify", "s1", "TEA", "TEA-LONGJING-250G")
    adapter.push("shopify", "s1", "TEA-LONGJING-250G", 5)
    searched = json.loads(net.requests[0].data)["variables"]["q"]
    assert searched == 'sku:"TEA"'
    listing = adapter._listings.get("shopify", "s1", "TEA-LONGJING-250G")
    assert listing.mapped and "channel SKU TEA" in listing.note


def test_a_table_mapped_sku_without_a_map_entry_is_unmapped_without_a_call():
    table = Store("shopify", "s1", "orderhub/shopify/s1", rules=StoreRules(sku_mapping="table"))
    adapter, net, _ = world(ShopifyStock(), SHOPIFY_SECRET, [])
    adapter._catalog.put_store(table)
    with pytest.raises(ListingUnmapped):
        adapter.push("shopify", "s1", "CUP", 1)
    assert net.requests == []
