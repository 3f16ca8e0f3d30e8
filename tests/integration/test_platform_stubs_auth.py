"""The local stubs check each platform's auth the way the platform does: the real adapters
(adapters/platform_stock.py) against the stub platform and the pull stub on loopback, once
with the seeded store's credentials (the push lands, recorded with the call it came
through) and once with a wrong secret or token (the platform's own refusal, which the
adapter reads as credentials refused, naming the store)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.adapters.platform_stock import build_platform_stock_clients
from chalicelib.domain.errors import ChannelRejected
from chalicelib.domain.ports import Store, StoreRules
from local.stub_platform import StubPlatform
from local.stub_pull import start_pull_stub
from tests.fakes import FakeCatalog, FakeSecrets

SEED = json.loads((Path(__file__).resolve().parents[2] / "local" / "seed.json").read_text())
MARKETPLACES = (
    "shopify",
    "woocommerce",
    "bigcommerce",
    "tiktok",
    "douyin",
    "taobao",
    "jd",
    "pinduoduo",
    "amazon",
)
WRONG = {
    "shopify": {"admin_api_token": "shpat_wrong"},
    "woocommerce": {"consumer_secret": "cs_wrong"},
    "bigcommerce": {"access_token": "wrong"},
    "tiktok": {"app_secret": "wrong-secret"},
    "douyin": {"app_secret": "wrong-secret"},
    "taobao": {"app_secret": "wrong-secret"},
    "jd": {"app_secret": "wrong-secret"},
    "pinduoduo": {"client_secret": "wrong-secret"},
    "amazon": {"refresh_token": "Atzr|revoked"},
}


class Listings:
    def __init__(self):
        self.items = {}

    def get(self, platform, store_id, sku):
        return self.items.get((platform, store_id, sku))

    def put(self, listing):
        self.items[(listing.platform, listing.store_id, listing.sku)] = listing

    def for_store(self, platform, store_id):
        return []


@pytest.fixture(scope="module")
def stubs() -> Iterator[tuple[StubPlatform, str]]:
    platform = StubPlatform(port=0).start()
    pull = start_pull_stub("0", inventory=platform.inventory)
    yield platform, pull.url
    pull.stop()
    platform.stop()


def adapters(stubs, secrets: dict):
    platform, pull_url = stubs
    catalog = FakeCatalog()
    for store in SEED["stores"]:
        if store["platform"] in MARKETPLACES:
            rules = StoreRules(sku_mapping=store["rules"]["sku_mapping"])
            secret = f"secret/{store['store_id']}"
            catalog.put_store(Store(store["platform"], store["store_id"], secret, rules=rules))
            for channel_sku, sku in store.get("sku_map", {}).items():
                catalog.put_sku_mapping(store["platform"], store["store_id"], channel_sku, sku)
    urls = dict.fromkeys(MARKETPLACES, platform.url)
    urls.update(
        taobao=f"{pull_url}/taobao/router/rest",
        pinduoduo=f"{pull_url}/pinduoduo/api/router",
        jd=f"{pull_url}/jd/routerjson",
    )
    return build_platform_stock_clients(
        FakeSecrets(secrets), catalog, Listings(), urls, "2025-07", f"{platform.url}/auth/o2/token"
    )


@pytest.mark.parametrize("platform", MARKETPLACES)
def test_the_seeded_credentials_push_and_the_stub_records_the_call(stubs, platform):
    store = next(s for s in SEED["stores"] if s["platform"] == platform)
    secrets = {f"secret/{store['store_id']}": store["credentials"]}
    client = adapters(stubs, secrets)[platform]
    client.push(platform, store["store_id"], "TEA-LONGJING-250G", 17)
    recorded = [
        p
        for p in stubs[0].pushes()
        if (p["platform"], p["store"], p["quantity"]) == (platform, store["store_id"], 17)
    ]
    assert recorded and recorded[-1]["sku"] == "TEA-LONGJING-250G"
    assert recorded[-1]["api"] != "generic"


@pytest.mark.parametrize("platform", MARKETPLACES)
def test_a_wrong_secret_gets_the_platforms_own_refusal(stubs, platform):
    store = next(s for s in SEED["stores"] if s["platform"] == platform)
    secret = {**store["credentials"], **WRONG[platform]}
    client = adapters(stubs, {f"secret/{store['store_id']}": secret})[platform]
    before = len(stubs[0].pushes())
    with pytest.raises(ChannelRejected) as refused:
        client.push(platform, store["store_id"], "CUP-CELADON-2PK", 3)
    assert store["store_id"] in refused.value.message and "Fix" in refused.value.message
    assert len(stubs[0].pushes()) == before
