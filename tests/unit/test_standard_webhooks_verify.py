"""Standard Webhooks: the official vector verifies; one changed byte anywhere does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.channels.standard_webhooks import verify_standard_webhook
from chalicelib.domain.errors import InvalidSignature, StaleTimestamp
from tests.conftest import fixture_json

VECTOR = fixture_json("standard_webhooks/test_vector_sign.json")
SIGNED_AT = datetime.fromtimestamp(int(VECTOR["headers"]["webhook-timestamp"]), tz=UTC)
BODY = VECTOR["raw_body"].encode()


def verify(headers=None, body=BODY, secrets=(VECTOR["secret"],), now=SIGNED_AT):
    return verify_standard_webhook(headers or dict(VECTOR["headers"]), body, list(secrets), now)


def test_official_vector_verifies_and_returns_delivery_id():
    assert verify() == VECTOR["headers"]["webhook-id"]


def test_header_names_in_any_case_verify():
    shouted = {k.upper(): v for k, v in VECTOR["headers"].items()}
    assert verify(headers=shouted) == VECTOR["headers"]["webhook-id"]


def test_one_changed_body_byte_fails():
    with pytest.raises(InvalidSignature):
        verify(body=BODY.replace(b"2432232314", b"2432232315"))


def test_negative_signature_from_reference_tests_fails():
    headers = dict(
        VECTOR["headers"], **{"webhook-signature": VECTOR["negative_signature_from_tests"]}
    )
    with pytest.raises(InvalidSignature):
        verify(headers=headers)


def test_other_secret_fails_but_verifies_during_rotation_overlap():
    other = "whsec_" + "A" * 32
    with pytest.raises(InvalidSignature):
        verify(secrets=(other,))
    assert verify(secrets=(other, VECTOR["secret"]))


def test_changed_timestamp_fails_signature():
    headers = dict(VECTOR["headers"], **{"webhook-timestamp": str(int(SIGNED_AT.timestamp()) + 1)})
    with pytest.raises(InvalidSignature):
        verify(headers=headers)


@pytest.mark.parametrize(
    "skew", [timedelta(minutes=5, seconds=1), -timedelta(minutes=5, seconds=1)]
)
def test_timestamp_outside_five_minutes_is_stale(skew):
    with pytest.raises(StaleTimestamp):
        verify(now=SIGNED_AT + skew)


def test_timestamp_inside_five_minutes_verifies():
    assert verify(now=SIGNED_AT + timedelta(minutes=4, seconds=59))


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_named(missing):
    headers = {k: v for k, v in VECTOR["headers"].items() if k != missing}
    with pytest.raises(InvalidSignature, match=missing):
        verify(headers=headers)


def test_multi_signature_header_from_spec_is_parsed():
    shape = fixture_json("standard_webhooks/spec_example_headers.json")
    headers = dict(VECTOR["headers"])
    headers["webhook-signature"] = (
        shape["headers"]["webhook-signature"] + " " + VECTOR["headers"]["webhook-signature"]
    )
    assert verify(headers=headers)
