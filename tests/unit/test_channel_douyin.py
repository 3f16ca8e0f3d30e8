"""Douyin Shop (抖店): both signature methods verify through the channel in any header case;
`app-id` must be the store's key; one delivery (a JSON array) becomes one event per order
message, each keyed by its msg_id; tag "0" is the verification ping; the reply is
{"code": 0, "msg": "success"}."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib.channels.base import Delivery
from chalicelib.channels.douyin import DouyinChannel
from chalicelib.channels.douyin_signature import sign_douyin
from chalicelib.domain.errors import InvalidPayload, InvalidSignature, TransientFailure
from chalicelib.domain.model import PlatformStatus
from chalicelib.domain.ports import Store
from tests.conftest import fixture_json

VECTOR = fixture_json("doudian/signature_vector_derived.json")
APP_KEY, APP_SECRET = VECTOR["app_key"], VECTOR["app_secret"]
SECRET_JSON = {"app_key": APP_KEY, "app_secret": APP_SECRET}
STORE = Store("douyin", "dy-flagship", "orderhub/stores/douyin/dy-flagship", "Asia/Shanghai")
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
CHANNEL = DouyinChannel()
ORDER_ID = 4781320682406083640  # 19 digits: beyond a double's exact range


def msg(tag: str, msg_id: str, **data) -> dict:
    """A message as the push service sends it: `data` is JSON text. Field names per the
    published message types (order created / paid / cancelled); values constructed here."""
    body = {"p_id": ORDER_ID, "s_ids": [ORDER_ID + 1], "shop_id": 4463798, **data}
    return {"tag": tag, "msg_id": msg_id, "data": json.dumps(body)}


CREATED = msg("100", "7093726437652694567", order_status=1, create_time=1795593600)
PAID = msg("101", "7093726437652694568", order_status=2, pay_amount=8800, pay_time=1795593660)
ADDRESS = msg("105", "7093726437652694569", receiver_msg={"addr": "..."}, update_time=1795593700)


def body_of(*messages: dict) -> bytes:
    return json.dumps(list(messages), separators=(",", ":"), ensure_ascii=False).encode()


def signed(raw: bytes, method: str | None = None, secret=APP_SECRET) -> dict[str, str]:
    hdrs = {"app-id": APP_KEY, "event-sign": sign_douyin(APP_KEY, secret, raw, method or "md5")}
    if method:
        hdrs["sign-method"] = method
    return hdrs


def receive(raw: bytes, hdrs: dict, secret_json=None, store=STORE):
    delivery = Delivery.of(hdrs, raw, NOW)
    credentials = CHANNEL.credentials(secret_json or SECRET_JSON)
    delivery_id = CHANNEL.verify(delivery, credentials, NOW)
    return delivery_id, CHANNEL.parse(delivery, store, delivery_id)


def verify_vector(hdrs: dict, raw: bytes | None = None, secret_json=None) -> str:
    raw = VECTOR["raw_body"].encode() if raw is None else raw
    delivery = Delivery.of(hdrs, raw, NOW)
    return CHANNEL.verify(delivery, CHANNEL.credentials(secret_json or SECRET_JSON), NOW)


@pytest.mark.parametrize("case", [str, str.upper, str.title], ids=["lower", "upper", "title"])
@pytest.mark.parametrize(
    ("method", "expected"),
    [
        (None, VECTOR["expected_md5"]),
        ("md5", VECTOR["expected_md5"]),
        ("hmac-sha256", VECTOR["expected_hmac_sha256"]),
        ("HMAC-SHA256", VECTOR["expected_hmac_sha256"]),
    ],
)
def test_derived_vectors_verify_in_any_header_case(case, method, expected):
    hdrs = {"app-id": APP_KEY, "event-sign": expected}
    if method:
        hdrs["sign-method"] = method
    assert verify_vector({case(k): v for k, v in hdrs.items()}).startswith("sha256:")


@pytest.mark.parametrize("method", ["md5", "hmac-sha256"])
@pytest.mark.parametrize("tamper", ["body", "secret", "app_key", "app_id", "missing"])
def test_tampered_or_unsigned_delivery_is_refused(method, tamper):
    expected = VECTOR["expected_md5" if method == "md5" else "expected_hmac_sha256"]
    hdrs = {"app-id": APP_KEY, "event-sign": expected, "sign-method": method}
    raw = VECTOR["raw_body"].encode()
    secret_json = dict(SECRET_JSON)
    if tamper == "body":
        raw = raw.replace(b"9001", b"9002")
    elif tamper == "secret":
        secret_json["app_secret"] = "secret-457"
    elif tamper == "app_key":  # the key is in the signed text and must equal app-id
        secret_json["app_key"] = hdrs["app-id"] = "app-124"
    elif tamper == "app_id":
        hdrs["app-id"] = "app-999"
    else:
        del hdrs["event-sign"]
    with pytest.raises(InvalidSignature):
        verify_vector(hdrs, raw, secret_json)


@pytest.mark.parametrize("method", ["md5", "hmac-sha256"])
def test_a_changed_time_inside_a_message_breaks_the_signature(method):
    raw = body_of(PAID)
    hdrs = signed(raw, method)
    with pytest.raises(InvalidSignature):
        receive(raw.replace(b"1795593660", b"1795593661"), hdrs)


def test_unknown_sign_method_is_refused():
    hdrs = {"app-id": APP_KEY, "event-sign": VECTOR["expected_md5"], "sign-method": "sha1"}
    with pytest.raises(InvalidSignature, match="sign-method 'sha1'"):
        verify_vector(hdrs)


def test_vector_body_is_an_order_created_message_without_order_data():
    """The vector's message is tag 100 with data "{}": authentic, but it names no order, so
    it is refused with the field to fix rather than queued half-empty."""
    raw = VECTOR["raw_body"].encode()
    with pytest.raises(InvalidPayload, match=r"\$\[0\]\.data\.p_id is required"):
        receive(raw, {"app-id": APP_KEY, "event-sign": VECTOR["expected_md5"]})


def test_one_delivery_becomes_one_thin_event_per_order_message():
    raw = body_of(CREATED, PAID, ADDRESS)
    _, events = receive(raw, signed(raw))
    assert [e.event_key for e in events] == [
        "douyin#dy-flagship#7093726437652694567",
        "douyin#dy-flagship#7093726437652694568",
    ]
    created, paid = events
    assert created.order_id == paid.order_id == "4781320682406083640"
    assert (created.status, created.event_type) == (PlatformStatus.UNPAID, "created")
    assert (paid.status, paid.event_type) == (PlatformStatus.PAID, "paid")
    assert created.updated_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert paid.updated_at == datetime(2026, 11, 25, 8, 1, tzinfo=UTC)
    assert (created.updated_at_raw, paid.updated_at_raw) == ("1795593600", "1795593660")
    assert paid.platform_event_id == "7093726437652694568"
    for ev in events:
        assert ev.complete is False and (ev.lines, ev.currency, ev.buyer) == ((), "", None)
        assert ev.updated_at.tzinfo is UTC
        assert type(ev).from_dict(ev.to_dict()) == ev


@pytest.mark.parametrize(
    ("tag", "field", "status"),
    [
        ("102", "update_time", PlatformStatus.SHIPPED),
        ("103", "complete_time", PlatformStatus.SHIPPED),
        ("106", "cancel_time", PlatformStatus.CANCELLED),
    ],
)
def test_order_tags_map_to_status_and_their_time(tag, field, status):
    raw = body_of(msg(tag, "m-1", **{field: 1795593600}))
    _, (ev,) = receive(raw, signed(raw, "hmac-sha256"))
    assert ev.status is status and ev.updated_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_text_times_are_read_in_the_store_zone():
    raw = body_of(msg("101", "m-2", pay_time="2026-11-25 16:01:00"))
    _, (ev,) = receive(raw, signed(raw))
    assert ev.updated_at == datetime(2026, 11, 25, 8, 1, tzinfo=UTC)
    assert ev.updated_at_raw == "2026-11-25 16:01:00"


def test_data_given_as_an_object_is_read_too():
    data = {"p_id": "123", "cancel_time": 1795593600}
    message = {"tag": "106", "msg_id": 7093726437652694570, "data": data}
    raw = body_of(message)
    _, (ev,) = receive(raw, signed(raw))
    assert ev.event_key == "douyin#dy-flagship#7093726437652694570" and ev.order_id == "123"


def test_verification_ping_is_answered_success_and_queues_nothing():
    raw = body_of({"tag": "0", "msg_id": "", "data": "{}"})
    delivery_id, events = receive(raw, signed(raw))
    assert events == []
    assert CHANNEL.ack(delivery_id, events) == (200, {"code": 0, "msg": "success"})


def test_order_delivery_is_answered_success_too():
    raw = body_of(CREATED)
    delivery_id, events = receive(raw, signed(raw))
    assert CHANNEL.ack(delivery_id, events) == (200, {"code": 0, "msg": "success"})


@pytest.mark.parametrize(
    ("raw", "message_text"),
    [
        (b'{"tag": "100"}', "JSON array"),
        (b"[1]", r"\$\[0\] must be an object"),
        (body_of({"msg_id": "1", "data": "{}"}), r"\$\[0\]\.tag is required"),
        (body_of({"tag": "100", "msg_id": "1", "data": "{x"}), r"\$\[0\]\.data is not valid"),
        (body_of(CREATED, {"tag": "101", "data": "{}"}), r"\$\[1\]\.msg_id is required"),
        (body_of(msg("101", "m-3")), r"\$\[0\]\.data\.pay_time is required"),
    ],
)
def test_broken_message_refuses_the_whole_delivery(raw, message_text):
    with pytest.raises(InvalidPayload, match=message_text):
        receive(raw, signed(raw))


def test_store_secret_needs_app_key_and_app_secret():
    with pytest.raises(TransientFailure, match="app_key"):
        CHANNEL.credentials({"app_secret": APP_SECRET})


def test_a_store_bound_to_a_shop_refuses_another_shops_messages():
    raw = body_of(CREATED)
    assert receive(raw, signed(raw), {**SECRET_JSON, "shop_id": "4463798"})[1]
    with pytest.raises(InvalidSignature, match="shop 4463798"):
        receive(raw, signed(raw), {**SECRET_JSON, "shop_id": "1"})
    ping = body_of({"tag": "0", "msg_id": "", "data": "{}"})
    assert receive(ping, signed(ping), {**SECRET_JSON, "shop_id": "1"})[1] == []
