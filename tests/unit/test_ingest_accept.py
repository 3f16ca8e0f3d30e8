"""accept_webhook: good deliveries are queued once; every bad one is refused and queues nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.channels.standard_webhooks import sign_standard_webhook
from chalicelib.domain import errors
from chalicelib.domain.ingest import MAX_BODY_BYTES, accept_webhook
from chalicelib.domain.ports import Store
from tests.builders import body, mall_payload
from tests.fakes import FakeCatalog, FakeQueue, FakeSecrets

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


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
    return accept_webhook(platform, store, headers, raw, catalog, secrets, queue, NOW)


def test_signed_delivery_is_queued_with_its_canonical_event(world):
    raw = body(mall_payload())
    accepted = accept(world, raw, signed(raw))
    (message, correlation) = world[2].messages[0]
    assert accepted.event_keys == ("mall#demo-shop#msg_1",)
    assert message["event"]["order_id"] == "o-1" and message["raw"] == raw.decode()
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
