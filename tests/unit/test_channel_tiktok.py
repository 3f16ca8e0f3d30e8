"""TikTok Shop: the derived vector verifies through the channel in any header case; the
EcomPHP sample becomes a thin canonical event with a composite dedupe key; the store's
credentials need the app key pair."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.channels.base import Delivery
from chalicelib.channels.tiktok import TikTokChannel
from chalicelib.channels.tiktok_signature import sign_tiktok
from chalicelib.domain.errors import InvalidPayload, InvalidSignature, TransientFailure
from chalicelib.domain.model import PlatformStatus
from chalicelib.domain.ports import Store
from tests.conftest import FIXTURES, fixture_json

VECTOR = fixture_json("tiktok_shop/signature_vector_derived.json")
SAMPLE_BYTES = (FIXTURES / "tiktok_shop/order_status_change_ecomphp_test.json").read_bytes()
SECRET_JSON = {"app_key": VECTOR["app_key"], "app_secret": VECTOR["app_secret"]}
STORE = Store("tiktok", "tt-us", "orderhub/stores/tiktok/tt-us")
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
CHANNEL = TikTokChannel()


def signed(raw: bytes, secret=VECTOR["app_secret"], name="Authorization") -> dict[str, str]:
    return {"Content-Type": "application/json", name: sign_tiktok(VECTOR["app_key"], secret, raw)}


def receive(raw: bytes, hdrs: dict, secret_json=None):
    delivery = Delivery.of(hdrs, raw, NOW)
    credentials = CHANNEL.credentials(secret_json or SECRET_JSON)
    delivery_id = CHANNEL.verify(delivery, credentials, NOW)
    return delivery_id, CHANNEL.parse(delivery, STORE, delivery_id)


def test_fixture_sample_is_the_signed_vector_body():
    assert SAMPLE_BYTES.strip() == VECTOR["raw_body"].encode()


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION"])
def test_derived_vector_verifies_in_any_header_case(name):
    raw = VECTOR["raw_body"].encode()
    hdrs = {name: VECTOR["expected_signature"]}
    delivery_id, events = receive(raw, hdrs)
    assert delivery_id.startswith("sha256:") and len(events) == 1


@pytest.mark.parametrize(
    "tamper", ["body", "timestamp", "secret", "app_key", "negative", "missing"]
)
def test_tampered_or_unsigned_delivery_is_refused(tamper):
    raw = VECTOR["raw_body"].encode()
    hdrs = {"Authorization": VECTOR["expected_signature"]}
    secret_json = dict(SECRET_JSON)
    if tamper == "body":
        raw = raw.replace(b"576684019603311365", b"576684019603311366")
    elif tamper == "timestamp":  # both times are in the signed body
        raw = raw.replace(b"1664095733", b"1664095734").replace(b"1664095610", b"1664095611")
    elif tamper == "secret":
        secret_json["app_secret"] = "fake_app_secreT"
    elif tamper == "app_key":
        secret_json["app_key"] = "fake_app_keY"
    elif tamper == "negative":
        hdrs["Authorization"] = VECTOR["negative_signature"]
    else:
        hdrs = {}
    with pytest.raises(InvalidSignature):
        receive(raw, hdrs, secret_json)


def test_sample_normalizes_to_a_thin_canonical_event():
    _, (ev,) = receive(SAMPLE_BYTES, signed(SAMPLE_BYTES))
    assert ev.event_key == (
        "tiktok#tt-us#7494726673780148744:1:576684019603311365:AWAITING_SHIPMENT:1664095610"
    )
    assert (ev.platform, ev.store, ev.order_id) == ("tiktok", "tt-us", "576684019603311365")
    assert ev.status is PlatformStatus.PAID and ev.event_type == "paid"
    assert ev.updated_at == datetime(2022, 9, 25, 8, 46, 50, tzinfo=UTC)
    assert ev.updated_at.tzinfo is UTC and ev.updated_at_raw == "1664095610"
    # the webhook carries no lines, currency or buyer: the order API must fill them in
    assert ev.complete is False
    assert (ev.lines, ev.currency, ev.buyer) == ((), "", None)
    assert type(ev).from_dict(ev.to_dict()) == ev


def message(**data_changes) -> bytes:
    payload = json.loads(SAMPLE_BYTES)
    payload["data"].update(data_changes)
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("UNPAID", PlatformStatus.UNPAID),
        ("ON_HOLD", PlatformStatus.PAID),
        ("AWAITING_SHIPMENT", PlatformStatus.PAID),
        ("PARTIALLY_SHIPPING", PlatformStatus.SHIPPED),
        ("AWAITING_COLLECTION", PlatformStatus.SHIPPED),
        ("IN_TRANSIT", PlatformStatus.SHIPPED),
        ("DELIVERED", PlatformStatus.SHIPPED),
        ("COMPLETED", PlatformStatus.SHIPPED),
        ("CANCELLED", PlatformStatus.CANCELLED),
        (111, PlatformStatus.PAID),  # older API's numeric codes
        (140, PlatformStatus.CANCELLED),
    ],
)
def test_statuses_map_to_platform_status(status, expected):
    raw = message(order_status=status)
    _, (ev,) = receive(raw, signed(raw))
    assert ev.status is expected


def test_each_status_change_has_its_own_key_and_a_redelivery_the_same():
    paid, shipped = message(), message(order_status="IN_TRANSIT", update_time=1664099999)
    _, (a,) = receive(paid, signed(paid))
    _, (again,) = receive(paid, signed(paid))
    _, (b,) = receive(shipped, signed(shipped))
    assert a.event_key == again.event_key != b.event_key


@pytest.mark.parametrize("kind", [2, 3, 4, 5, 6])
def test_other_message_types_are_acknowledged_and_queue_nothing(kind):
    payload = json.loads(SAMPLE_BYTES)
    payload["type"] = kind
    raw = json.dumps(payload).encode()
    assert receive(raw, signed(raw))[1] == []


@pytest.mark.parametrize(
    ("raw", "message_text"),
    [
        (message(order_status="LOST"), r"\$\.data\.order_status 'LOST'"),
        (message(order_id=None), r"\$\.data\.order_id is required"),
        (message(update_time="later"), r"\$\.data\.update_time"),
        (b"[1]", "JSON object"),
        (b'{"type": "1"}', r"\$\.type must be an integer"),
    ],
)
def test_broken_message_is_refused_with_the_field_path(raw, message_text):
    with pytest.raises(InvalidPayload, match=message_text):
        receive(raw, signed(raw))


@pytest.mark.parametrize(
    "secret_json", [{"app_secret": "s"}, {"app_key": "k"}, {"webhook_secret": "whsec_x"}]
)
def test_store_secret_needs_app_key_and_app_secret(secret_json):
    with pytest.raises(TransientFailure, match="app_"):
        CHANNEL.credentials(secret_json)


def test_rotated_app_secrets_both_verify():
    raw = SAMPLE_BYTES
    rotating = {**SECRET_JSON, "app_secrets": ["new-secret", VECTOR["app_secret"]]}
    assert receive(raw, signed(raw), rotating)[1]
    assert receive(raw, signed(raw, secret="new-secret"), rotating)[1]


def test_a_store_bound_to_a_shop_refuses_another_shops_delivery():
    raw = SAMPLE_BYTES
    mine = {**SECRET_JSON, "shop_id": "7494726673780148744"}
    assert receive(raw, signed(raw), mine)[1]
    with pytest.raises(InvalidSignature, match="shop 7494726673780148744"):
        receive(raw, signed(raw), {**SECRET_JSON, "shop_id": "111"})
