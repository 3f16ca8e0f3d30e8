"""API keys resolve to a principal through their hash; anything else is refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.auth import ApiKeyAuthenticator, hash_api_key
from chalicelib.domain.errors import Unauthenticated
from tests.fakes import FakeCatalog

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
def auth():
    catalog = FakeCatalog()
    catalog.put_api_key(hash_api_key("good"), {"key_id": "k1", "owner": "ops", "role": "admin"})
    catalog.put_api_key(
        hash_api_key("old"),
        {"key_id": "k2", "owner": "x", "role": "admin", "expires_at": "2026-11-01T00:00:00Z"},
    )
    catalog.put_api_key(
        hash_api_key("off"), {"key_id": "k3", "owner": "x", "role": "cs", "disabled": True}
    )
    return ApiKeyAuthenticator(catalog)


def test_valid_key_gives_principal(auth):
    assert auth.authenticate("Bearer good", NOW).role == "admin"


def test_keys_are_looked_up_by_hash_only():
    assert hash_api_key("good") != "good" and len(hash_api_key("good")) == 64


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing Authorization"),
        ("good", "Bearer"),
        ("Basic Zm9vOmJhcg==", "Bearer"),
        ("Bearer wrong", "not recognised"),
        ("Bearer off", "disabled"),
        ("Bearer old", "expired"),
    ],
)
def test_refusals_say_why(auth, header, reason):
    with pytest.raises(Unauthenticated, match=reason):
        auth.authenticate(header, NOW)
