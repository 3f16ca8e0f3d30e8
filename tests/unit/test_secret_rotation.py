"""Secret rotation with overlap: both secrets verify during the grace window, then only the new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.channels.standard_webhooks import sign_standard_webhook
from chalicelib.channels.webhook import accept_webhook
from chalicelib.domain.errors import InvalidPayload, InvalidSignature
from chalicelib.domain.ports import Store
from chalicelib.domain.rotation import effective_secret, new_webhook_secret, rotate
from tests.builders import body, mall_payload
from tests.fakes import FakeCatalog, FakeQueue, FakeSecrets
from tests.privacy_fakes import fake_vault

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
OLD, NEW = "whsec_b2xkLW9sZC1vbGQtb2xkLW9sZC1vbGQ=", "whsec_bmV3LW5ldy1uZXctbmV3LW5ldy1uZXc="


def test_rotation_keeps_the_old_secret_for_the_grace_window_only():
    rotated = rotate({"webhook_secret": OLD}, NEW, NOW, timedelta(hours=1))
    assert rotated["webhook_secret"] == NEW
    assert rotated["rotation"]["previous"] == {"webhook_secret": OLD}
    during = effective_secret(rotated, NOW + timedelta(minutes=59))
    assert during == {"webhook_secrets": [NEW, OLD]}
    after = effective_secret(rotated, NOW + timedelta(hours=1))
    assert after == {"webhook_secret": NEW}


def test_a_second_rotation_inside_the_window_drops_the_oldest():
    first = rotate({"webhook_secret": OLD}, "whsec_second", NOW)
    second = rotate(first, NEW, NOW + timedelta(minutes=5))
    assert effective_secret(second, NOW + timedelta(minutes=6)) == {
        "webhook_secrets": [NEW, "whsec_second"]
    }


def test_app_secrets_rotate_and_keep_the_app_key():
    rotated = rotate({"app_key": "k", "app_secret": "old", "shop_id": "7"}, "new", NOW)
    assert effective_secret(rotated, NOW) == {
        "app_key": "k",
        "shop_id": "7",
        "app_secrets": ["new", "old"],
    }


def test_zero_grace_voids_the_old_secret_at_once():
    rotated = rotate({"client_secret": "old", "store_hash": "h"}, "new", NOW, timedelta(0))
    assert "rotation" not in rotated
    assert effective_secret(rotated, NOW) == {"client_secret": "new", "store_hash": "h"}


@pytest.mark.parametrize(
    ("secret", "new", "grace", "words"),
    [
        ({"webhook_secret": OLD}, OLD, timedelta(hours=1), "in use"),
        ({"webhook_secret": OLD}, " ", timedelta(hours=1), "must not be empty"),
        ({"webhook_secret": OLD}, NEW, timedelta(days=8), "between 0 and 7 days"),
        ({"store_hash": "h"}, NEW, timedelta(hours=1), "exactly one of"),
        ({"webhook_secret": OLD, "app_secret": "x"}, NEW, timedelta(hours=1), "exactly one of"),
    ],
)
def test_bad_rotations_say_what_is_wrong(secret, new, grace, words):
    with pytest.raises(InvalidPayload, match=words):
        rotate(secret, new, NOW, grace)


def test_a_broken_rotation_block_never_widens_what_verifies():
    secret = {"webhook_secret": NEW, "rotation": {"previous": {"webhook_secret": OLD}}}
    assert effective_secret(secret, NOW) == {"webhook_secret": NEW}


def deliver(secrets: FakeSecrets, signed_with: str, at: datetime):
    raw = body(mall_payload())
    headers = {
        "webhook-id": f"msg-{at.timestamp()}",
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": sign_standard_webhook(signed_with, f"msg-{at.timestamp()}", at, raw),
    }
    catalog = FakeCatalog()
    catalog.put_store(Store("mall", "s1", "secret/s1"))
    queue, vault = FakeQueue(), fake_vault()
    return accept_webhook("mall", "s1", headers, raw, catalog, secrets, queue, at, vault=vault)


def test_webhooks_signed_with_either_secret_verify_during_the_window_then_only_the_new():
    secrets = FakeSecrets({"secret/s1": rotate({"webhook_secret": OLD}, NEW, NOW)})
    during = NOW + timedelta(minutes=30)
    assert deliver(secrets, OLD, during).event_keys
    assert deliver(secrets, NEW, during).event_keys
    after = NOW + timedelta(minutes=61)
    assert deliver(secrets, NEW, after).event_keys
    with pytest.raises(InvalidSignature):
        deliver(secrets, OLD, after)


def test_generated_secrets_are_standard_webhooks_keys_of_32_random_bytes():
    import base64

    first, second = new_webhook_secret(), new_webhook_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
