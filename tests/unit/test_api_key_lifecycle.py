"""API keys from issue to revocation: the pure rules, then the admin endpoints over the fake
stack (issue -> use -> rotate with overlap -> revoke), each step audited."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.domain.api_keys import (
    DEFAULT_OVERLAP,
    disable_key,
    issue_key,
    review_keys,
    rotate_key,
)
from chalicelib.domain.auth import ApiKeyAuthenticator, hash_api_key
from chalicelib.domain.errors import ConcurrentUpdate, Conflict, InvalidPayload, Unauthenticated
from tests.access_fakes import FakeApiKeys
from tests.fakes import FakeCatalog, FixedClock
from tests.unit.test_http_api import KEY

ADMIN = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

# ---- the rules ----------------------------------------------------------------------------


def test_issue_defaults_to_90_days_and_keeps_only_the_hash():
    now = FixedClock()()
    issued = issue_key("alice", "cs", now)
    assert issued.secret.startswith("oh_") and len(issued.secret) > 40
    assert issued.key.expires_at - now == timedelta(days=90)
    record = json.dumps(issued.key.to_record()) + json.dumps(issued.key.lookups())
    assert issued.secret not in record and hash_api_key(issued.secret) in record
    assert "key_hash" not in issued.key.view() and "previous_hash" not in issued.key.view()


@pytest.mark.parametrize(
    ("owner", "role", "days", "reason"),
    [
        ("", "cs", None, "owner"),
        ("a", "root", None, "role must be one of admin, ops, cs, finance, warehouse"),
        ("a", "cs", 0, "expires_in_days"),
        ("a", "cs", 366, "expires_in_days"),
        ("a", "cs", "30", "expires_in_days"),
    ],
)
def test_issue_refuses_bad_input_with_the_reason(owner, role, days, reason):
    with pytest.raises(InvalidPayload, match=reason):
        issue_key(owner, role, FixedClock()(), days)


def test_rotation_keeps_the_old_secret_for_the_overlap_then_retires_it():
    clock = FixedClock()
    catalog = FakeCatalog()
    keys = FakeApiKeys(catalog)
    auth = ApiKeyAuthenticator(catalog)
    first = issue_key("alice", "ops", clock())
    keys.save_key(first.key)
    second = rotate_key(first.key, clock())
    keys.save_key(second.key, second.retired)
    assert second.key.key_id == first.key.key_id and second.key.version == 2
    assert second.key.previous_until == clock() + DEFAULT_OVERLAP
    assert auth.authenticate(f"Bearer {first.secret}", clock()).key_id == first.key.key_id
    assert auth.authenticate(f"Bearer {second.secret}", clock()).role == "ops"
    with pytest.raises(Unauthenticated, match="rotation"):
        auth.authenticate(f"Bearer {first.secret}", clock() + DEFAULT_OVERLAP)
    clock.advance(hours=1)  # a second rotation inside the window ends the first secret at once
    third = rotate_key(second.key, clock())
    assert third.retired == (first.key.key_hash,)
    keys.save_key(third.key, third.retired)
    with pytest.raises(Unauthenticated, match="disabled"):
        auth.authenticate(f"Bearer {first.secret}", clock())
    assert auth.authenticate(f"Bearer {second.secret}", clock()).key_id == first.key.key_id


def test_overlap_never_outlives_the_old_secret_and_zero_ends_it_now():
    now = FixedClock()()
    key = issue_key("a", "cs", now, 1).key
    assert rotate_key(key, now + timedelta(hours=20)).key.previous_until == key.expires_at
    instant = rotate_key(key, now, timedelta(0))
    assert instant.key.previous_hash is None and instant.retired == (key.key_hash,)


def test_a_disabled_key_cannot_be_rotated():
    now = FixedClock()()
    key = disable_key(issue_key("a", "cs", now).key, now, "revoked")
    with pytest.raises(Conflict, match="issue a new key"):
        rotate_key(key, now)


def test_stale_saves_are_refused():
    keys = FakeApiKeys(FakeCatalog())
    now = FixedClock()()
    key = issue_key("a", "cs", now).key
    keys.save_key(key)
    keys.save_key(disable_key(key, now, "x"))
    with pytest.raises(ConcurrentUpdate):
        keys.save_key(rotate_key(key, now).key)  # rotated from the version before the revoke


def test_last_use_is_written_at_most_once_an_hour():
    clock = FixedClock()
    catalog = FakeCatalog()
    keys = FakeApiKeys(catalog)
    issued = issue_key("a", "cs", clock())
    keys.save_key(issued.key)
    auth = ApiKeyAuthenticator(catalog, usage=keys)
    for _ in range(50):
        auth.authenticate(f"Bearer {issued.secret}", clock())
        clock.advance(seconds=30)  # 25 minutes of traffic
    assert keys.touches == 1
    clock.advance(minutes=40)
    auth.authenticate(f"Bearer {issued.secret}", clock())
    assert keys.touches == 2
    assert keys.get_key(issued.key.key_id).last_used_at == clock()
    other_function = ApiKeyAuthenticator(catalog, usage=keys)  # a second warm Lambda
    other_function.authenticate(f"Bearer {issued.secret}", clock())
    assert keys.touches == 2  # the stored last_used_at is recent: the conditional write skips


YEAR = timedelta(days=365)


def test_keys_live_at_most_90_days_or_the_configured_ceiling():
    now = FixedClock()()
    assert issue_key("a", "cs", now).key.expires_at == now + timedelta(days=90)
    with pytest.raises(InvalidPayload, match="from 1 to 90"):
        issue_key("a", "cs", now, 91)
    with pytest.raises(InvalidPayload, match="from 1 to 30"):
        issue_key("a", "cs", now, 31, max_days=30)
    assert issue_key("a", "cs", now, max_days=30).key.expires_at == now + timedelta(days=30)
    # a configuration above 90 does not lift the ceiling
    with pytest.raises(InvalidPayload, match="from 1 to 90"):
        issue_key("a", "cs", now, 365, max_days=365)


def test_review_picks_expiring_and_unused_keys():
    clock = FixedClock()
    now = clock()
    fresh = issue_key("a", "cs", now).key
    expiring = issue_key("b", "cs", now - timedelta(days=80)).key  # 10 days left
    expiring = replace(expiring, last_used_at=now)
    # issued before keys lived at most 90 days (a year then), so still valid, but idle
    unused = replace(issue_key("c", "cs", now - timedelta(days=91)).key, expires_at=now + YEAR)
    used = replace(unused, key_id="used", last_used_at=now)
    gone = disable_key(
        replace(issue_key("d", "cs", now - timedelta(days=200)).key, expires_at=now + YEAR),
        now,
        "x",
    )
    review = review_keys([fresh, expiring, unused, used, gone], now)
    assert [k.owner for k in review.expiring] == ["b"]
    assert [k.key_id for k in review.unused] == [unused.key_id]


# ---- the endpoints ------------------------------------------------------------------------


def post(client, path, body=None, key=KEY):
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    raw = json.dumps(body).encode() if body is not None else b""
    return client.http.post(path, headers=headers, body=raw)


def test_key_lifecycle_over_http(client, deps):
    issued = post(client, "/admin/api-keys", {"owner": "wh-1", "role": "warehouse"})
    assert issued.status_code == 201, issued.body
    new = issued.json_body
    assert new["key"].startswith("oh_") and "not" in new["note"]
    assert new["expires_at"] == (deps.now() + timedelta(days=90)).isoformat()
    key_id, secret = new["key_id"], new["key"]
    use = {"Authorization": f"Bearer {secret}"}
    assert client.http.get("/inventory/SKU-A", headers=use).status_code == 200

    listed = client.http.get("/admin/api-keys", headers=ADMIN).json_body["keys"]
    mine = next(k for k in listed if k["key_id"] == key_id)
    assert mine["last_used_at"] == deps.now().isoformat()
    text = json.dumps(listed)
    assert secret not in text and hash_api_key(secret) not in text and "hash" not in text

    rotated = post(client, f"/admin/api-keys/{key_id}/rotate", {"overlap_hours": 2})
    assert rotated.status_code == 200, rotated.body
    new_secret = rotated.json_body["key"]
    assert new_secret != secret
    assert (
        rotated.json_body["previous_valid_until"] == (deps.now() + timedelta(hours=2)).isoformat()
    )
    assert client.http.get("/inventory/SKU-A", headers=use).status_code == 200  # overlap
    deps.now.advance(hours=2)
    old = client.http.get("/inventory/SKU-A", headers=use)
    assert old.status_code == 401 and "rotation" in old.json_body["message"]
    use_new = {"Authorization": f"Bearer {new_secret}"}
    assert client.http.get("/inventory/SKU-A", headers=use_new).status_code == 200

    revoked = post(client, f"/admin/api-keys/{key_id}/revoke", {"reason": "left the company"})
    assert revoked.status_code == 200 and revoked.json_body["disabled"] is True
    refused = client.http.get("/inventory/SKU-A", headers=use_new)
    assert refused.status_code == 401 and "disabled" in refused.json_body["message"]
    again = post(client, f"/admin/api-keys/{key_id}/rotate")
    assert again.status_code == 409 and again.json_body["error"] == "conflict"

    actions = [(e.action, e.target) for e in deps.audit_log.all()]
    assert actions == [
        ("api_key.issue", f"api_key/{key_id}"),
        ("api_key.rotate", f"api_key/{key_id}"),
        ("api_key.revoke", f"api_key/{key_id}"),
    ]
    entry = deps.audit_log.all()[1]
    assert entry.actor.key_id == "k" and entry.actor.role == "admin"
    assert entry.source_ip == "127.0.0.1"
    assert entry.before["rotated_at"] is None and entry.after["rotated_at"]
    assert secret not in json.dumps([e.to_dict() for e in deps.audit_log.all()])


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/admin/api-keys", {"owner": "a", "role": "god"}, 400, "invalid_payload"),
        ("/admin/api-keys", {"role": "cs"}, 400, "invalid_payload"),
        ("/admin/api-keys/nope/rotate", None, 404, "not_found"),
        ("/admin/api-keys/nope/revoke", None, 404, "not_found"),
        ("/admin/api-keys/k/rotate", {"overlap_hours": 999}, 400, "invalid_payload"),
    ],
)
def test_key_endpoint_errors(client, deps, path, body, status, code):
    response = post(client, path, body)
    assert response.status_code == status and response.json_body["error"] == code
    assert response.json_body["message"]


def test_revoking_twice_is_one_audited_change(client, deps):
    assert post(client, "/admin/api-keys", {"owner": "a", "role": "cs"}).status_code == 201
    key_id = deps.api_keys.list_keys()[-1].key_id
    assert post(client, f"/admin/api-keys/{key_id}/revoke").status_code == 200
    assert post(client, f"/admin/api-keys/{key_id}/revoke").status_code == 200
    assert [e.action for e in deps.audit_log.all()].count("api_key.revoke") == 1
