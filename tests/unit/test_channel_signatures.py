"""Each signature scheme against its vector in tests/fixtures: the vector verifies, and one
changed byte of body, secret or app key does not."""

from __future__ import annotations

import pytest

from chalicelib.channels.body_hmac import body_hmac_matches, sign_body_hmac
from chalicelib.channels.douyin_signature import douyin_signature_matches, sign_douyin
from chalicelib.channels.tiktok_signature import sign_tiktok, tiktok_signature_matches
from tests.conftest import fixture_json

SHOPIFY = fixture_json("shopify/hmac_test_vector_shopify_api_js.json")
WOO = fixture_json("woocommerce/signature_vector_derived.json")
TIKTOK = fixture_json("tiktok_shop/signature_vector_derived.json")
DOUYIN = fixture_json("doudian/signature_vector_derived.json")


def flip(data: bytes, at: int = 0) -> bytes:
    """The same bytes with one byte changed."""
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def flip_text(value: str, at: int = 0) -> str:
    return flip(value.encode(), at).decode()


@pytest.mark.parametrize(
    ("vector", "signature"),
    [(SHOPIFY, SHOPIFY["expected_hmac"]), (WOO, WOO["expected_signature"])],
    ids=["shopify", "woocommerce"],
)
def test_body_hmac_vectors_verify_and_fail_on_one_changed_byte(vector, signature):
    body, secret = vector["raw_body"].encode(), vector["secret"]
    assert sign_body_hmac(secret, body) == signature
    assert body_hmac_matches(body, signature, [secret])
    for at in (0, len(body) // 2, len(body) - 1):
        assert not body_hmac_matches(flip(body, at), signature, [secret])
    assert not body_hmac_matches(body, signature, [flip_text(secret)])
    assert not body_hmac_matches(body, signature, [secret + "x"])
    assert not body_hmac_matches(body, flip_text(signature, 3), [secret])


def test_body_hmac_negative_signature_from_shopify_tests_fails():
    assert not body_hmac_matches(
        SHOPIFY["raw_body"].encode(), SHOPIFY["negative_hmac"], [SHOPIFY["secret"]]
    )


def test_body_hmac_verifies_with_any_secret_of_a_rotation():
    body = SHOPIFY["raw_body"].encode()
    assert body_hmac_matches(body, SHOPIFY["expected_hmac"], ["new-secret", SHOPIFY["secret"]])
    assert not body_hmac_matches(body, SHOPIFY["expected_hmac"], [])


def test_tiktok_vector_verifies_and_fails_on_one_changed_byte():
    body, key, secret = TIKTOK["raw_body"].encode(), TIKTOK["app_key"], TIKTOK["app_secret"]
    signature = TIKTOK["expected_signature"]
    assert sign_tiktok(key, secret, body) == signature
    assert tiktok_signature_matches(body, signature, key, [secret])
    assert tiktok_signature_matches(body, signature.upper(), key, [secret])  # hex in any case
    for at in (0, len(body) // 2, len(body) - 1):
        assert not tiktok_signature_matches(flip(body, at), signature, key, [secret])
    assert not tiktok_signature_matches(body, signature, key, [flip_text(secret)])
    assert not tiktok_signature_matches(body, signature, flip_text(key), [secret])
    assert not tiktok_signature_matches(body, TIKTOK["negative_signature"], key, [secret])


@pytest.mark.parametrize(
    ("method", "expected"),
    [("md5", DOUYIN["expected_md5"]), ("hmac-sha256", DOUYIN["expected_hmac_sha256"])],
)
def test_douyin_vectors_verify_and_fail_on_one_changed_byte(method, expected):
    body, key, secret = DOUYIN["raw_body"].encode(), DOUYIN["app_key"], DOUYIN["app_secret"]
    assert sign_douyin(key, secret, body, method) == expected
    assert douyin_signature_matches(body, expected, key, [secret], method)
    for at in (0, len(body) // 2, len(body) - 1):
        assert not douyin_signature_matches(flip(body, at), expected, key, [secret], method)
    assert not douyin_signature_matches(body, expected, key, [flip_text(secret, 2)], method)
    assert not douyin_signature_matches(body, expected, flip_text(key, 2), [secret], method)


def test_douyin_methods_are_not_interchangeable():
    body, key, secret = DOUYIN["raw_body"].encode(), DOUYIN["app_key"], DOUYIN["app_secret"]
    assert not douyin_signature_matches(body, DOUYIN["expected_md5"], key, [secret], "hmac-sha256")
    with pytest.raises(ValueError, match="sign-method"):
        sign_douyin(key, secret, body, "sha1")
