"""TikTok Shop and Douyin order-API request signatures against vectors, and the requests built
with them.

The vectors are DERIVED: computed by us from the documented algorithms (see the docstrings of
chalicelib/channels/tiktok_api_signature.py and douyin_api_signature.py; inputs borrowed from
the shared webhook fixtures), not published by the platforms. Each also shows the exact
string signed, so a reader can recompute it with any HMAC/MD5 tool."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from chalicelib.channels.douyin_api import (
    DouyinApiCredentials,
    beijing_timestamp,
    douyin_api_credentials,
    order_detail_request,
)
from chalicelib.channels.douyin_api_signature import douyin_api_sign, param_json
from chalicelib.channels.tiktok_api import (
    TikTokApiCredentials,
    order_detail_query,
    tiktok_api_credentials,
)
from chalicelib.channels.tiktok_api_signature import tiktok_api_sign
from chalicelib.domain.details import OrderDetailsUnavailable
from chalicelib.domain.rotation import effective_secret

TIKTOK_PATH = "/order/202309/orders"
TIKTOK_SECRET = "fake_app_secret"
TIKTOK_QUERY = {
    "app_key": "fake_app_key",
    "ids": "576684019603311365",
    "shop_cipher": "ROW_fake_cipher",
    "timestamp": "1664095733",
}
# DERIVED: hex HMAC-SHA256(key="fake_app_secret", msg=TIKTOK_SIGNED)
TIKTOK_SIGNED = (
    "fake_app_secret/order/202309/orders"
    "app_keyfake_app_keyids576684019603311365shop_cipherROW_fake_ciphertimestamp1664095733"
    "fake_app_secret"
)
TIKTOK_SIGN = "9813066d428920156d7badb769a47223d4638b339d6a8c0b1d5a7b8efca704cc"
# DERIVED, with a body (a POST such as Search Orders): the body goes before the closing secret
TIKTOK_BODY_SIGN = "c510089c42f5ed884c82c5c00f2a2a5d934a0e66643ca20d96f6566a22622dd9"

DOUYIN_KEY, DOUYIN_SECRET = "app-123", "secret-456"  # as the shared push vector's
DOUYIN_PARAM_JSON = '{"shop_order_id":"4781320682406083640"}'
DOUYIN_TIMESTAMP = "2026-11-25 16:00:00"
# DERIVED: hex MD5(DOUYIN_SIGNED) and hex HMAC-SHA256(key="secret-456", msg=DOUYIN_SIGNED)
DOUYIN_SIGNED = (
    "secret-456app_keyapp-123methodorder.orderDetail"
    'param_json{"shop_order_id":"4781320682406083640"}'
    "timestamp2026-11-25 16:00:00v2secret-456"
)
DOUYIN_MD5 = "c3312abf2911e9ebb080b8990a2ba38e"
DOUYIN_HMAC = "9fc53e6ddfb045490ce6f76d80ede458612642af41ac704128342aa33f33c708"


def flip(value: str, at: int = 0) -> str:
    """The same text with one byte changed."""
    data = value.encode()
    return (data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]).decode()


# ---- TikTok ----------------------------------------------------------------------------------


def test_tiktok_vector_signs_path_sorted_params_and_secret():
    assert tiktok_api_sign(TIKTOK_SECRET, TIKTOK_PATH, TIKTOK_QUERY) == TIKTOK_SIGN
    # insertion order does not matter; sign and access_token are never signed
    shuffled = dict(reversed(list(TIKTOK_QUERY.items())))
    shuffled.update(sign="anything", access_token="anything")
    assert tiktok_api_sign(TIKTOK_SECRET, TIKTOK_PATH, shuffled) == TIKTOK_SIGN


def test_tiktok_vector_with_a_body():
    query = {"app_key": "fake_app_key", "timestamp": "1664095733"}
    body = b'{"order_status":"UNPAID"}'
    sign = tiktok_api_sign(TIKTOK_SECRET, "/order/202309/orders/search", query, body)
    assert sign == TIKTOK_BODY_SIGN
    assert tiktok_api_sign(TIKTOK_SECRET, "/order/202309/orders/search", query) != sign


@pytest.mark.parametrize("key", sorted(TIKTOK_QUERY))
def test_tiktok_one_changed_byte_of_any_param_changes_the_sign(key):
    changed = dict(TIKTOK_QUERY, **{key: flip(TIKTOK_QUERY[key], len(TIKTOK_QUERY[key]) - 1)})
    assert tiktok_api_sign(TIKTOK_SECRET, TIKTOK_PATH, changed) != TIKTOK_SIGN


def test_tiktok_one_changed_byte_of_secret_or_path_changes_the_sign():
    assert tiktok_api_sign(flip(TIKTOK_SECRET), TIKTOK_PATH, TIKTOK_QUERY) != TIKTOK_SIGN
    assert tiktok_api_sign(TIKTOK_SECRET, flip(TIKTOK_PATH, 3), TIKTOK_QUERY) != TIKTOK_SIGN
    assert tiktok_api_sign(TIKTOK_SECRET, TIKTOK_PATH, TIKTOK_QUERY, b" ") != TIKTOK_SIGN


def test_tiktok_request_is_the_vector_at_its_time():
    credentials = TikTokApiCredentials("fake_app_key", TIKTOK_SECRET, "tok", "ROW_fake_cipher")
    now = datetime.fromtimestamp(1664095733, UTC)
    query = order_detail_query("576684019603311365", credentials, now)
    assert query == {**TIKTOK_QUERY, "sign": TIKTOK_SIGN}
    assert "tok" not in urlencode(query)  # the token travels in x-tts-access-token only


def test_tiktok_signs_with_the_newest_secret_during_a_rotation():
    secret = {
        "app_key": "k",
        "app_secret": "new",
        "access_token": "t",
        "shop_cipher": "c",
        "rotation": {"previous": {"app_secret": "old"}, "until": "2026-11-25T15:00:00+00:00"},
    }
    during = effective_secret(secret, datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    assert during["app_secrets"] == ["new", "old"]
    assert tiktok_api_credentials(during).app_secret == "new"
    assert tiktok_api_credentials({**secret, "app_secrets": ["b", "a"]}).app_secret == "b"


def test_tiktok_missing_fields_are_named_and_transient():
    with pytest.raises(OrderDetailsUnavailable) as caught:
        tiktok_api_credentials({"app_key": "k", "app_secret": "s"})
    assert "access_token, shop_cipher" in caught.value.message
    assert (
        repr(TikTokApiCredentials("k", "secret", "token", "c"))
        == "TikTokApiCredentials(app_key='k', ...)"
    )


# ---- Douyin ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "expected"), [("md5", DOUYIN_MD5), ("hmac-sha256", DOUYIN_HMAC)]
)
def test_douyin_vectors(method, expected):
    sign = douyin_api_sign(
        DOUYIN_KEY,
        DOUYIN_SECRET,
        "order.orderDetail",
        DOUYIN_PARAM_JSON,
        DOUYIN_TIMESTAMP,
        "2",
        method,
    )
    assert sign == expected


@pytest.mark.parametrize("method", ["md5", "hmac-sha256"])
@pytest.mark.parametrize("field", ["app_key", "app_secret", "method", "param_json", "timestamp"])
def test_douyin_one_changed_byte_changes_the_sign(method, field):
    values = {
        "app_key": DOUYIN_KEY,
        "app_secret": DOUYIN_SECRET,
        "method": "order.orderDetail",
        "param_json": DOUYIN_PARAM_JSON,
        "timestamp": DOUYIN_TIMESTAMP,
    }
    expected = DOUYIN_MD5 if method == "md5" else DOUYIN_HMAC
    values[field] = flip(values[field], len(values[field]) // 2)
    sign = douyin_api_sign(
        values["app_key"],
        values["app_secret"],
        values["method"],
        values["param_json"],
        values["timestamp"],
        "2",
        method,
    )
    assert sign != expected


def test_douyin_unknown_sign_method_is_refused():
    with pytest.raises(ValueError, match="sign_method"):
        douyin_api_sign("k", "s", "m", "{}", DOUYIN_TIMESTAMP, "2", "sha1")


def test_douyin_param_json_is_sorted_and_compact():
    assert (
        param_json({"b": 1, "a": "x", "c": {"z": 1, "y": 2}}) == '{"a":"x","b":1,"c":{"y":2,"z":1}}'
    )
    assert param_json({"shop_order_id": "4781320682406083640"}) == DOUYIN_PARAM_JSON


def test_douyin_request_is_the_vector_at_its_time_in_beijing():
    credentials = DouyinApiCredentials(DOUYIN_KEY, DOUYIN_SECRET, "dy-token")
    now = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 16:00 in Beijing
    assert beijing_timestamp(now) == DOUYIN_TIMESTAMP
    query, body = order_detail_request("4781320682406083640", credentials, now)
    assert body == DOUYIN_PARAM_JSON.encode()
    assert query == {
        "app_key": DOUYIN_KEY,
        "method": "order.orderDetail",
        "access_token": "dy-token",
        "timestamp": DOUYIN_TIMESTAMP,
        "v": "2",
        "sign_method": "hmac-sha256",
        "sign": DOUYIN_HMAC,
    }


def test_douyin_signs_with_the_first_secret_and_names_missing_fields():
    secret = {"app_key": "k", "app_secrets": ["new", "old"], "access_token": "t"}
    assert douyin_api_credentials(secret).app_secret == "new"
    with pytest.raises(OrderDetailsUnavailable, match="access_token"):
        douyin_api_credentials({"app_key": "k", "app_secret": "s"})
    assert "secret" not in repr(DouyinApiCredentials("k", "secret", "token"))
