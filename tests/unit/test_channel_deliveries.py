"""Signed order deliveries for every webhook platform, built from the shared fixtures the way
each platform signs them: used by the HTTP and API Gateway tests, and checked here through
accept_webhook itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.channels.body_hmac import sign_body_hmac
from chalicelib.channels.douyin_signature import sign_douyin
from chalicelib.channels.tiktok_signature import sign_tiktok
from chalicelib.channels.webhook import accept_webhook
from chalicelib.domain.booking import BookingContext
from chalicelib.domain.model import OrderEvent
from chalicelib.domain.ports import Store
from chalicelib.domain.processing import process_order_event
from tests.conftest import FIXTURES, fixture_json
from tests.fakes import FakeCatalog, FakeOrderRepository, FakeQueue, FakeSecrets, with_stock
from tests.privacy_fakes import fake_vault, opened_message

STORE_ID = "shop-1"
PLATFORM_SECRETS: dict[str, dict[str, Any]] = {
    "shopify": {"webhook_secret": "shpss_unit_test_secret"},
    "woocommerce": {"webhook_secret": "wc_unit_test_secret"},
    "tiktok": {"app_key": "tt_unit_key", "app_secret": "tt_unit_secret"},
    "douyin": {"app_key": "dy_unit_key", "app_secret": "dy_unit_secret"},
}
WEBHOOK_PLATFORMS = tuple(PLATFORM_SECRETS)
DOUYIN_PUSH = [
    {
        "tag": "101",
        "msg_id": "7093726437652694568",
        "data": json.dumps(
            {
                "p_id": 4781320682406083640,
                "shop_id": 4463798,
                "order_status": 2,
                "pay_time": 1795593660,
                "pay_amount": 8800,
            }
        ),
    },
    {"tag": "105", "msg_id": "7093726437652694569", "data": "{}"},
]
ORDER_IDS = {
    "shopify": "820982911946154508",
    "woocommerce": "727",
    "tiktok": "576684019603311365",
    "douyin": "4781320682406083640",
}


def add_platform_stores(deps: Any) -> None:
    """One store per webhook platform (`shop-1`) with its credentials, on any container
    holding a FakeCatalog and FakeSecrets."""
    for platform, secret in PLATFORM_SECRETS.items():
        name = f"secret/{platform}"
        zone = "Asia/Shanghai" if platform == "douyin" else "UTC"
        deps.catalog.put_store(Store(platform, STORE_ID, name, zone))
        deps.secrets.secrets[name] = secret


def order_body(platform: str) -> bytes:
    if platform == "shopify":
        return (FIXTURES / "shopify/orders_create_sample_statamic.json").read_bytes()
    if platform == "woocommerce":
        return str(fixture_json("woocommerce/signature_vector_derived.json")["raw_body"]).encode()
    if platform == "tiktok":
        return (FIXTURES / "tiktok_shop/order_status_change_ecomphp_test.json").read_bytes()
    return json.dumps(DOUYIN_PUSH, ensure_ascii=False).encode()


def sign(platform: str, raw: bytes, secret: dict[str, Any] | None = None) -> dict[str, str]:
    """The headers `platform` sends with `raw`, in the case it sends them."""
    secret = secret or PLATFORM_SECRETS[platform]
    if platform == "shopify":
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": sign_body_hmac(secret["webhook_secret"], raw),
            "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
            "X-Shopify-Triggered-At": "2021-12-31T19:00:00-05:00",
            "X-Shopify-Shop-Domain": "jsmith.myshopify.com",
        }
    if platform == "woocommerce":
        return {
            "Content-Type": "application/json",
            "X-WC-Webhook-Topic": "order.updated",
            "X-WC-Webhook-Source": "https://example.com/",
            "X-WC-Webhook-Delivery-ID": "d41d8cd98f00b204e9800998ecf8427e",
            "X-WC-Webhook-Signature": sign_body_hmac(secret["webhook_secret"], raw),
        }
    if platform == "tiktok":
        return {
            "Content-Type": "application/json",
            "Authorization": sign_tiktok(secret["app_key"], secret["app_secret"], raw),
        }
    return {
        "Content-Type": "application/json",
        "app-id": secret["app_key"],
        "event-sign": sign_douyin(secret["app_key"], secret["app_secret"], raw),
    }


def signed_delivery(platform: str) -> tuple[bytes, dict[str, str]]:
    raw = order_body(platform)
    return raw, sign(platform, raw)


def badly_signed_delivery(platform: str) -> tuple[bytes, dict[str, str]]:
    """Signed with another secret: authentic-looking, but not the store's."""
    raw = order_body(platform)
    other = {k: v + "-not-ours" for k, v in PLATFORM_SECRETS[platform].items()}
    other["app_key"] = PLATFORM_SECRETS[platform].get("app_key", "")
    return raw, sign(platform, raw, other)


class _World:
    def __init__(self) -> None:
        self.catalog, self.secrets, self.queue = FakeCatalog(), FakeSecrets(), FakeQueue()
        self.vault = fake_vault()


@pytest.mark.parametrize("platform", WEBHOOK_PLATFORMS)
def test_signed_delivery_of_each_platform_is_queued_as_its_order(platform):
    world = _World()
    add_platform_stores(world)
    raw, headers = signed_delivery(platform)
    now = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    accepted = accept_webhook(
        platform,
        STORE_ID,
        headers,
        raw,
        world.catalog,
        world.secrets,
        world.queue,
        now,
        vault=world.vault,
    )
    ((message, correlation),) = world.queue.messages
    assert message["event"]["order_id"] == ORDER_IDS[platform]
    assert opened_message(message, world.vault)["raw"] == raw.decode()  # sealed in the queue
    assert correlation == f"{platform}#{STORE_ID}#{ORDER_IDS[platform]}"
    assert accepted.status == 200 and accepted.event_keys == (message["event"]["event_key"],)


@pytest.mark.parametrize("platform", ["tiktok", "douyin"])
def test_thin_events_move_no_stock_while_order_details_are_not_fetched(platform):
    """TikTok and Douyin events carry no lines (`complete` False). Until the processor fetches
    the order from the platform's API, booking one as it stands holds and releases nothing."""
    world = _World()
    add_platform_stores(world)
    raw, headers = signed_delivery(platform)
    now = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    accept_webhook(
        platform,
        STORE_ID,
        headers,
        raw,
        world.catalog,
        world.secrets,
        world.queue,
        now,
        vault=world.vault,
    )
    ((message, _),) = world.queue.messages
    event = OrderEvent.from_dict(message["event"])
    assert event.complete is False and event.lines == ()
    repository = FakeOrderRepository()
    with_stock(repository, "SKU-A", "w1", 5)
    before = dict(repository.stock)
    process_order_event(event, repository, lambda: BookingContext(now))
    assert repository.stock == before
