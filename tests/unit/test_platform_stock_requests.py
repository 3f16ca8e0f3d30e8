"""Each platform's stock call against its documented example and signing vector
(tests/fixtures/inventory/, provenance in its SOURCES.md), and how each platform's answers
become results: taken, retry later, refused for good (listing gone, credentials)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from chalicelib.channels.amazon_stock import AmazonStock
from chalicelib.channels.bigcommerce_stock import BigCommerceStock
from chalicelib.channels.douyin_api_signature import douyin_api_sign
from chalicelib.channels.douyin_stock import DouyinStock, douyin_call
from chalicelib.channels.router_stock import JdStock, PinduoduoStock, TaobaoStock
from chalicelib.channels.shopify_stock import ShopifyStock, throttle_wait
from chalicelib.channels.stock_api import ApiAnswer, BatchRefused, ListingGone, StockLine, Throttled
from chalicelib.channels.tiktok_stock import TikTokStock
from chalicelib.channels.woocommerce_stock import WooCommerceStock
from chalicelib.domain.errors import ChannelRejected, ChannelUnavailable
from tests.conftest import fixture_json

AT_1714536000 = datetime.fromtimestamp(1714536000, UTC)  # 2024-05-01 04:00 UTC
NOON_BEIJING = datetime(2024, 5, 1, 4, 0, tzinfo=UTC)  # "2024-05-01 12:00:00" GMT+8
NOON_UTC = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # the Shopify example's reference time


def answer(body, status=200, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return ApiAnswer(status, raw, headers or {})


def form(call):
    return dict(parse_qsl(call.body.decode(), keep_blank_values=True))


# ---- Shopify ---------------------------------------------------------------------------------

SHOPIFY_CREDS = {"shop_domain": "x.myshopify.com", "admin_api_token": "shpat_x", "store_id": "s"}
SHOPIFY_LINE = StockLine(
    "SKU-RED-M",
    42,
    {
        "inventory_item_id": "gid://shopify/InventoryItem/30322695",
        "location_id": "gid://shopify/Location/124656943",
    },
)


def test_shopify_sets_absolute_available_as_the_2025_10_example():
    doc = fixture_json("inventory/shopify/inventorySetQuantities_2025-10_rendered.json")
    ((call, _lines),) = ShopifyStock("2025-10").stock_calls(SHOPIFY_CREDS, [SHOPIFY_LINE], NOON_UTC)
    sent = json.loads(call.body)
    assert sent == {"query": doc["query"], "variables": doc["variables"]}
    assert call.path == "/admin/api/2025-10/graphql.json" and call.method == "POST"
    assert call.headers["X-Shopify-Access-Token"] == "shpat_x"


def test_shopify_from_2026_04_sends_change_from_null_and_an_idempotency_key():
    doc = fixture_json("inventory/shopify/inventorySetQuantities_2026-04_rendered.json")
    ((call, _),) = ShopifyStock("2026-04").stock_calls(SHOPIFY_CREDS, [SHOPIFY_LINE], NOON_BEIJING)
    sent = json.loads(call.body)
    assert sent["query"] == doc["query"]
    assert sent["variables"]["input"]["quantities"] == doc["variables"]["input"]["quantities"]
    assert "ignoreCompareQuantity" not in sent["variables"]["input"]
    assert sent["variables"]["key"].startswith("orderhub-push-")


def test_shopify_batches_at_most_250_quantities_per_call():
    lines = [StockLine(f"S{i}", i, SHOPIFY_LINE.ids) for i in range(251)]
    calls = ShopifyStock().stock_calls(SHOPIFY_CREDS, lines, NOON_BEIJING)
    assert [len(group) for _, group in calls] == [250, 1]


def test_shopify_user_error_names_the_gone_line_and_retries_the_rest():
    doc = fixture_json("inventory/shopify/responses_rendered.json")
    other = StockLine("OTHER", 1, SHOPIFY_LINE.ids)
    results = ShopifyStock().read_stock(answer(doc["user_error"]), [SHOPIFY_LINE, other])
    assert isinstance(results["SKU-RED-M"], ListingGone)
    assert "INVALID_INVENTORY_ITEM" in results["SKU-RED-M"].message
    assert type(results["OTHER"]) is ChannelUnavailable


def test_shopify_throttled_waits_for_the_cost_bucket():
    doc = fixture_json("inventory/shopify/responses_rendered.json")
    api = ShopifyStock()
    assert api.throttled(answer(doc["throttled"]))
    # (10 requested - 5 available) / 100 restored per second = 0.05 s, floored at 0.1 s
    assert throttle_wait(doc["throttled"]) == pytest.approx(0.1)
    drained = {
        **doc["throttled"],
        "extensions": {
            "cost": {
                "requestedQueryCost": 60,
                "throttleStatus": {"currentlyAvailable": 10, "restoreRate": 50},
            }
        },
    }
    assert throttle_wait(drained) == pytest.approx(1.0)
    with pytest.raises(Throttled):
        api.read_stock(answer(doc["throttled"]), [SHOPIFY_LINE])


def test_shopify_401_is_a_credentials_refusal_naming_the_fields():
    doc = fixture_json("inventory/shopify/responses_rendered.json")
    with pytest.raises(ChannelRejected, match="admin_api_token"):
        ShopifyStock().read_stock(answer(doc["auth_http_401_body"], 401), [SHOPIFY_LINE])


# ---- WooCommerce -----------------------------------------------------------------------------

WOO_CREDS = {"site_url": "https://shop.example", "consumer_key": "ck", "consumer_secret": "cs"}


def test_woocommerce_batches_variations_under_their_parent_as_documented():
    documented = fixture_json("inventory/woocommerce/variations_batch_request_v3.json")
    line = StockLine("V", 42, {"product_id": "733", "parent_id": "22"})
    simple = StockLine("P", 7, {"product_id": "93", "parent_id": "0"})
    calls = WooCommerceStock().stock_calls(WOO_CREDS, [line, simple], NOON_BEIJING)
    paths = {call.path: json.loads(call.body) for call, _ in calls}
    variation = paths["/wp-json/wc/v3/products/22/variations/batch"]["update"][0]
    assert variation["id"] == documented["update"][0]["id"] == 733
    assert variation == {"id": 733, "manage_stock": True, "stock_quantity": 42}
    assert paths["/wp-json/wc/v3/products/batch"] == {
        "update": [{"id": 93, "manage_stock": True, "stock_quantity": 7}]
    }
    assert calls[0][0].headers["Authorization"] == "Basic Y2s6Y3M="


def test_woocommerce_reads_each_object_of_the_batch_answer():
    documented = fixture_json("inventory/woocommerce/variation_update_response_v3.json")
    taken = {**documented, "stock_quantity": 42, "manage_stock": True}
    gone = {
        "id": 734,
        "error": {
            "code": "woocommerce_rest_product_invalid_id",
            "message": "Invalid ID.",
            "data": {"status": 404},
        },
    }
    lines = [StockLine("V", 42, {"product_id": "733"}), StockLine("W", 1, {"product_id": "734"})]
    results = WooCommerceStock().read_stock(answer({"update": [taken, gone]}), lines)
    assert results["V"] is None and isinstance(results["W"], ListingGone)


def test_woocommerce_documented_404_route_error_is_a_fix_for_site_url():
    errors = fixture_json("inventory/woocommerce/error_examples_v3.json")
    with pytest.raises(ChannelRejected, match="site_url"):
        WooCommerceStock().read_stock(
            answer(errors["wp_rest_404"], 404), [StockLine("V", 1, {"product_id": "1"})]
        )


# ---- BigCommerce -----------------------------------------------------------------------------


def test_bigcommerce_absolute_adjustment_has_the_documented_item_shape():
    documented = fixture_json("inventory/bigcommerce/inventory_absolute_adjustment_request.json")
    creds = {"store_hash": "abc", "access_token": "t"}
    lines = [StockLine("V1", 1, {"variant_id": "1"}), StockLine("sku-5", 1, {})]
    ((call, _),) = BigCommerceStock().stock_calls(creds, lines, NOON_BEIJING)
    sent = json.loads(call.body)
    assert sent["items"] == [documented["items"][0], documented["items"][3]]
    assert (call.method, call.path) == ("PUT", "/stores/abc/v3/inventory/adjustments/absolute")
    assert call.headers["X-Auth-Token"] == "t"


def test_bigcommerce_422_of_a_batch_is_resent_line_by_line_and_of_one_line_is_gone():
    refused = answer(
        fixture_json("inventory/bigcommerce/inventory_absolute_adjustment_422.json"), 422
    )
    lines = [StockLine("A", 1, {"variant_id": "106"}), StockLine("B", 1, {"variant_id": "107"})]
    with pytest.raises(BatchRefused):
        BigCommerceStock().read_stock(refused, lines)
    single = BigCommerceStock().read_stock(refused, lines[:1])
    assert isinstance(single["A"], ListingGone) and "tracked by product" in single["A"].message


def test_bigcommerce_waits_out_its_quota_window():
    spent = answer(
        {"transaction_id": "t"},
        200,
        {"x-rate-limit-requests-left": "0", "x-rate-limit-time-reset-ms": "1500"},
    )
    assert BigCommerceStock().pause_after(spent) == 1.5
    assert BigCommerceStock().read_stock(spent, [StockLine("A", 1, {})]) == {"A": None}


# ---- TikTok Shop -----------------------------------------------------------------------------


def test_tiktok_inventory_update_matches_the_signed_vector():
    vector = fixture_json("inventory/tiktok_shop/update_inventory_signed_derived.json")
    creds = {
        "app_key": "fake_app_key",
        "app_secret": "fake_app_secret",
        "access_token": "fake_access_token",
        "shop_cipher": "fake_cipher",
    }
    line = StockLine(
        "SKU-RED-M",
        42,
        {
            "product_id": "1729592969712207000",
            "sku_id": "1729592969712207001",
            "warehouse_id": "7068517275539719942",
        },
    )
    ((call, _),) = TikTokStock().stock_calls(creds, [line], AT_1714536000)
    assert call.body.decode() == vector["body"]
    expected = urlsplit(vector["url"].split(" ", 1)[-1])
    got = urlsplit("https://open-api.tiktokglobalshop.com" + call.path)
    assert got.path == expected.path
    assert dict(parse_qsl(got.query)) == dict(parse_qsl(expected.query))
    assert dict(parse_qsl(got.query))["sign"] == vector["sign"]
    assert call.headers["x-tts-access-token"] == "fake_access_token"


def test_tiktok_partial_failure_names_the_sku_and_auth_codes_are_refusals():
    doc = fixture_json("inventory/tiktok_shop/responses_rendered.json")
    line = StockLine("SKU", 1, {"product_id": "p", "sku_id": "1729592969712207001"})
    other = StockLine("OTHER", 1, {"product_id": "p", "sku_id": "9"})
    results = TikTokStock().read_stock(
        answer(doc["update_inventory_partial_failure_rendered"]), [line, other]
    )
    assert isinstance(results["SKU"], ListingGone) and results["OTHER"] is None
    with pytest.raises(ChannelUnavailable):
        TikTokStock().read_stock(answer(doc["error_verbatim_ecomphp_tests"]), [line])
    with pytest.raises(ChannelRejected):
        TikTokStock().read_stock(answer({"code": 105002, "message": "token expired"}), [line])


# ---- Douyin ----------------------------------------------------------------------------------


def test_douyin_sync_stock_matches_the_signed_vector():
    vector = fixture_json("inventory/doudian/sku_syncStock_signed_derived.json")
    creds = {
        "app_key": "fake_app_key",
        "app_secret": "fake_app_secret",
        "access_token": "fake_access_token",
    }
    line = StockLine(
        "SKU-RED-M", 42, {"product_id": "3500000000000000001", "sku_id": "1700000000000000001"}
    )
    params = DouyinStock().sync_params(line)
    call = douyin_call(creds, "sku.syncStock", params, AT_1714536000, timestamp="1714536000")
    assert call.body.decode() == vector["body"]
    query = dict(parse_qsl(urlsplit(call.path).query))
    assert query["sign"] == vector["sign"]
    assert urlsplit(call.path).path == "/sku/syncStock"
    assert (
        douyin_api_sign(
            "fake_app_key",
            "fake_app_secret",
            "sku.syncStock",
            vector["body"],
            "1714536000",
            "2",
            "md5",
        )
        == vector["md5_variant"]["sign"]
    )


def test_douyin_answers():
    doc = fixture_json("inventory/doudian/responses_rendered.json")
    line = StockLine("S", 1, {"product_id": "1", "sku_id": "2"})
    assert DouyinStock().read_stock(answer(doc["sku_syncStock_success"]), [line]) == {"S": None}
    with pytest.raises(ChannelRejected, match="access_token"):
        DouyinStock().read_stock(
            answer(
                {"code": 30002, "msg": "access_token已过期", "sub_code": "isv.access-token-expired"}
            ),
            [line],
        )
    gone = DouyinStock().read_stock(answer({"code": 50002, "msg": "sku不存在"}), [line])
    assert isinstance(gone["S"], ListingGone)
    with pytest.raises(Throttled):
        DouyinStock().read_stock(answer({"code": 50003, "msg": "调用过于频繁 限流"}), [line])


# ---- Taobao, Pinduoduo, JD -------------------------------------------------------------------


def test_taobao_item_quantity_update_matches_the_signed_vector():
    vector = fixture_json("inventory/taobao/item_quantity_update_signed_derived.json")
    creds = {"app_key": "12345678", "app_secret": "fake_app_secret", "session": "fake_session"}
    line = StockLine("SKU-RED-M", 42, {"num_iid": "1234567890", "has_skus": "1"})
    ((call, _),) = TaobaoStock().stock_calls(creds, [line], NOON_BEIJING)
    assert form(call) == {**vector["params"], "sign": vector["sign"]}
    hmac_creds = {**creds, "sign_method": "hmac"}
    ((call, _),) = TaobaoStock().stock_calls(hmac_creds, [line], NOON_BEIJING)
    assert form(call)["sign"] == vector["hmac_variant"]["sign"]


def test_taobao_batches_skus_of_one_item_absolutely():
    creds = {"app_key": "k", "app_secret": "s", "session": "x"}
    lines = [StockLine(f"S{i}", i, {"num_iid": "7", "sku_id": str(100 + i)}) for i in range(21)]
    calls = TaobaoStock().stock_calls(creds, lines, NOON_BEIJING)
    assert [len(group) for _, group in calls] == [20, 1]
    first = form(calls[0][0])
    assert first["method"] == "taobao.skus.quantity.update" and first["type"] == "1"
    assert first["skuid_quantities"].startswith("100:0;101:1;")


def test_taobao_answers():
    doc = fixture_json("inventory/taobao/responses_rendered.json")
    line = StockLine("S", 1, {"num_iid": "1"})
    assert TaobaoStock().read_stock(answer(doc["success"]), [line]) == {"S": None}
    with pytest.raises(ChannelRejected, match="session"):
        TaobaoStock().read_stock(answer(doc["invalid_session"]), [line])
    with pytest.raises(Throttled):
        TaobaoStock().read_stock(answer(doc["app_call_limited"]), [line])
    gone = {
        "error_response": {
            "code": 15,
            "msg": "Remote service error",
            "sub_code": "isv.item-not-exist",
            "sub_msg": "商品不存在",
        }
    }
    assert isinstance(TaobaoStock().read_stock(answer(gone), [line])["S"], ListingGone)


def test_pinduoduo_quantity_update_matches_the_signed_vector():
    vector = fixture_json("inventory/pinduoduo/goods_quantity_update_signed_derived.json")
    creds = {
        "client_id": "fake_client_id",
        "client_secret": "fake_app_secret",
        "access_token": "fake_access_token",
    }
    api = PinduoduoStock()
    line = StockLine("SKU-RED-M", 42, {"goods_id": "123456789"})
    ((call, _),) = api.stock_calls(api.credentials(creds, "s"), [line], AT_1714536000)
    assert form(call) == {**vector["params"], "sign": vector["sign"]}


def test_pinduoduo_answers():
    doc = fixture_json("inventory/pinduoduo/responses_rendered.json")
    line = StockLine("S", 1, {"goods_id": "1"})
    assert PinduoduoStock().read_stock(answer(doc["success"]), [line]) == {"S": None}
    with pytest.raises(ChannelRejected, match="access_token"):
        PinduoduoStock().read_stock(answer(doc["token_expired"]), [line])


def test_jd_stock_update_matches_the_signed_vector():
    vector = fixture_json("inventory/jd/stock_update_signed_derived.json")
    creds = {
        "app_key": "fake_app_key",
        "app_secret": "fake_app_secret",
        "access_token": "fake_access_token",
    }
    api = JdStock()
    line = StockLine("SKU", 42, {"sku_id": "10000000001"})
    ((call, _),) = api.stock_calls(api.credentials(creds, "s"), [line], NOON_BEIJING)
    assert form(call) == {**vector["params"], "sign": vector["sign"]}


# ---- Amazon ----------------------------------------------------------------------------------


def test_amazon_patch_is_the_listings_feed_patch_message():
    feed = fixture_json("inventory/amazon/listings_feed_v2_example.json")
    documented = next(
        m
        for m in feed["messages"]
        if m["operationType"] == "PATCH" and m["patches"][0]["op"] == "replace"
    )
    creds = {
        "lwa_client_id": "c",
        "lwa_client_secret": "s",
        "refresh_token": "r",
        "store_id": "A1SELLER",
        "access_token": "Atza|t",
    }
    ((call, _),) = AmazonStock().stock_calls(
        creds, [StockLine("My SKU/1", 10, {"product_type": "LUGGAGE"})], NOON_BEIJING
    )
    assert json.loads(call.body) == {
        "productType": documented["productType"],
        "patches": documented["patches"],
    }
    assert call.method == "PATCH"
    assert (
        call.path == "/listings/2021-08-01/items/A1SELLER/My%20SKU%2F1?marketplaceIds=ATVPDKIKX0DER"
    )
    assert call.headers["x-amz-access-token"] == "Atza|t"


def test_amazon_200_is_success_only_when_accepted():
    doc = fixture_json("inventory/amazon/patchListingsItem_examples.json")
    line = StockLine("S", 1, {"product_type": "HOME"})
    assert AmazonStock().read_stock(answer(doc["200_example"]), [line]) == {"S": None}
    invalid = AmazonStock().read_stock(answer(doc["200_sandbox_validation_invalid"]), [line])["S"]
    assert isinstance(invalid, ChannelRejected) and "90000900" in invalid.message
    bad = AmazonStock().read_stock(answer(doc["400_sandbox"], 400), [line])["S"]
    assert isinstance(bad, ChannelRejected) and "Invalid input" in bad.message
    with pytest.raises(Throttled):
        AmazonStock().read_stock(answer({}, 429, {"retry-after": "0.2"}), [line])


def test_amazon_lwa_token_exchange():
    api = AmazonStock("https://lwa.example/auth/o2/token")
    call = api.token_call({"lwa_client_id": "c", "lwa_client_secret": "s", "refresh_token": "r"})
    assert call.path == "https://lwa.example/auth/o2/token"
    assert form(call) == {
        "grant_type": "refresh_token",
        "refresh_token": "r",
        "client_id": "c",
        "client_secret": "s",
    }
    assert api.read_token(answer({"access_token": "Atza|x", "expires_in": 3600})) == (
        "Atza|x",
        3600.0,
    )
    with pytest.raises(ChannelRejected, match="refresh_token"):
        api.read_token(answer({"error": "invalid_grant"}, 400))


@pytest.mark.parametrize(
    "api",
    [
        ShopifyStock(),
        WooCommerceStock(),
        BigCommerceStock(),
        TikTokStock(),
        DouyinStock(),
        TaobaoStock(),
        JdStock(),
        PinduoduoStock(),
        AmazonStock(),
    ],
    ids=lambda a: a.platform,
)
def test_a_store_secret_missing_fields_is_refused_naming_them(api):
    with pytest.raises(ChannelRejected, match="lacks"):
        api.credentials({}, "store-1")


@pytest.mark.parametrize(
    "api",
    [ShopifyStock(), WooCommerceStock(), BigCommerceStock(), AmazonStock()],
    ids=lambda a: a.platform,
)
def test_5xx_is_retried_later(api):
    with pytest.raises(ChannelUnavailable):
        api.read_stock(
            answer({"error": "down"}, 503),
            [StockLine("S", 1, {"product_id": "1", "sku_id": "1", "product_type": "X"})],
        )


def test_douyin_finds_a_sku_by_its_code_through_one_catalog_crawl():
    listed = {
        "code": 10000,
        "msg": "success",
        "data": {"data": [{"product_id": 35}, {"product_id": 36}], "total": 2},
    }
    skus = {
        35: {
            "code": 10000,
            "msg": "success",
            "data": [{"id": 17, "product_id": 35, "code": "TEA"}],
        },
        36: {
            "code": 10000,
            "msg": "success",
            "data": [
                {"id": 18, "product_id": 36, "code": "CUP"},
                {"id": 19, "product_id": 36, "code": "CUP"},
            ],
        },
    }
    calls = []

    def send(call):
        calls.append(call.api)
        if call.api == "product.listV2":
            return answer(listed)
        return answer(skus[json.loads(call.body)["product_id"]])

    api = DouyinStock()
    creds = {"app_key": "k", "app_secret": "s", "access_token": "t"}
    assert api.lookup(send, creds, "TEA", NOON_BEIJING) == (
        {"product_id": "35", "sku_id": "17"},
        "product.listV2 + sku.list code",
    )
    ids, note = api.lookup(send, creds, "CUP", NOON_BEIJING)
    assert ids is None and "conflict" in note
    assert api.lookup(send, creds, "GHOST", NOON_BEIJING)[0] is None
    assert calls == ["product.listV2", "sku.list", "sku.list"]  # one crawl for all three
