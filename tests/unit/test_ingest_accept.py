"""accept_webhook: good deliveries are queued once; every bad one is refused and queues nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.channels.standard_webhooks import sign_standard_webhook
from chalicelib.channels.webhook import MAX_BODY_BYTES, accept_webhook
from chalicelib.domain import errors
from chalicelib.domain.ports import Store
from tests.builders import body, mall_payload
from tests.fakes import FakeCatalog, FakeQueue, FakeSecrets
from tests.privacy_fakes import fake_vault, opened_message
from tests.unit.test_channel_deliveries import STORE_ID, add_platform_stores, sign

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
VAULT = fake_vault()


@pytest.fixture
def world():
    catalog = FakeCatalog()
    catalog.put_store(Store("mall", "demo-shop", "secret/demo"))
    return catalog, FakeSecrets({"secret/demo": {"webhook_secret": SECRET}}), FakeQueue()


def signed(raw: bytes, msg_id="msg_1", at=NOW):
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": sign_standard_webhook(SECRET, msg_id, at, raw),
    }


def accept(world, raw, headers, platform="mall", store="demo-shop"):
    catalog, secrets, queue = world
    return accept_webhook(platform, store, headers, raw, catalog, secrets, queue, NOW, vault=VAULT)


def test_signed_delivery_is_queued_with_its_canonical_event(world):
    raw = body(mall_payload())
    accepted = accept(world, raw, signed(raw))
    (message, correlation) = world[2].messages[0]
    assert accepted.event_keys == ("mall#demo-shop#msg_1",)
    assert message["event"]["order_id"] == "o-1" and "raw" not in message  # sealed
    assert opened_message(message, VAULT)["raw"] == raw.decode()
    assert correlation == "mall#demo-shop#o-1"


@pytest.mark.parametrize(
    ("platform", "store", "tamper", "error"),
    [
        ("nosuch", "demo-shop", None, errors.UnknownPlatform),
        ("mall", "nosuch", None, errors.UnknownStore),
        ("mall", "demo-shop", "body", errors.InvalidSignature),
        ("mall", "demo-shop", "unsigned", errors.InvalidSignature),
        ("mall", "demo-shop", "old", errors.StaleTimestamp),
        ("mall", "demo-shop", "invalid", errors.InvalidPayload),
        ("mall", "demo-shop", "huge", errors.PayloadTooLarge),
    ],
)
def test_bad_delivery_is_refused_and_queues_nothing(world, platform, store, tamper, error):
    raw = body(mall_payload())
    headers = signed(raw)
    if tamper == "body":
        raw = raw.replace(b"o-1", b"o-2")
    elif tamper == "unsigned":
        headers = {}
    elif tamper == "old":
        headers = signed(raw, at=datetime(2026, 11, 25, 7, 50, tzinfo=UTC))
    elif tamper == "invalid":
        raw = b'{"type": "order.created"}'
        headers = signed(raw)
    elif tamper == "huge":
        raw = b" " * (MAX_BODY_BYTES + 1)
    with pytest.raises(error):
        accept(world, raw, headers, platform, store)
    assert world[2].messages == []


def test_mall_answer_is_202_with_its_delivery_and_event(world):
    raw = body(mall_payload())
    accepted = accept(world, raw, signed(raw))
    assert accepted.status == 202
    assert accepted.reply == {
        "status": "accepted",
        "delivery_id": "msg_1",
        "events": ["mall#demo-shop#msg_1"],
    }


class Platforms:
    def __init__(self) -> None:
        self.catalog, self.secrets, self.queue = FakeCatalog(), FakeSecrets(), FakeQueue()
        add_platform_stores(self)

    def accept(self, platform, raw, headers):
        return accept_webhook(
            platform,
            STORE_ID,
            headers,
            raw,
            self.catalog,
            self.secrets,
            self.queue,
            NOW,
            vault=VAULT,
        )


def douyin_message(tag, msg_id, order_id, **data):
    return {"tag": tag, "msg_id": msg_id, "data": json.dumps({"p_id": order_id, **data})}


def test_one_douyin_delivery_queues_one_message_per_order_event():
    platforms = Platforms()
    raw = json.dumps(
        [
            douyin_message("100", "m1", 4781320682406083640, create_time=1795593600),
            douyin_message("0", "m0", 0),
            douyin_message("106", "m2", 4781320682406083641, cancel_time=1795593700),
        ]
    ).encode()
    accepted = platforms.accept("douyin", raw, sign("douyin", raw))
    assert accepted.event_keys == ("douyin#shop-1#m1", "douyin#shop-1#m2")
    assert [c for _, c in platforms.queue.messages] == [
        "douyin#shop-1#4781320682406083640",
        "douyin#shop-1#4781320682406083641",
    ]
    assert len(accepted.message_ids) == 2
    assert (accepted.status, accepted.reply) == (200, {"code": 0, "msg": "success"})


def test_one_bad_douyin_message_refuses_the_delivery_before_anything_is_queued():
    platforms = Platforms()
    raw = json.dumps(
        [
            douyin_message("100", "m1", 4781320682406083640, create_time=1795593600),
            douyin_message("101", "m2", 4781320682406083640),  # no pay_time
        ]
    ).encode()
    with pytest.raises(errors.InvalidPayload, match=r"\$\[1\]\.data\.pay_time"):
        platforms.accept("douyin", raw, sign("douyin", raw))
    assert platforms.queue.messages == []


def test_woocommerce_ping_is_accepted_and_queues_nothing():
    platforms = Platforms()
    accepted = platforms.accept("woocommerce", b"webhook_id=12", {})
    assert accepted.event_keys == () and accepted.status == 200
    assert platforms.queue.messages == []


@pytest.mark.parametrize(
    ("platform", "secret"),
    [
        ("tiktok", {"app_key": "k"}),
        ("douyin", {"webhook_secret": "s"}),
        ("shopify", {"app_key": "k", "app_secret": "s"}),
        ("mall", {}),
    ],
)
def test_store_secret_without_its_platform_fields_is_transient_and_queues_nothing(platform, secret):
    platforms = Platforms()
    platforms.catalog.put_store(Store(platform, STORE_ID, "secret/bare"))
    platforms.secrets.secrets["secret/bare"] = secret
    with pytest.raises(errors.TransientFailure, match="credentials lack"):
        platforms.accept(platform, b"{}", {})
    assert platforms.queue.messages == []
