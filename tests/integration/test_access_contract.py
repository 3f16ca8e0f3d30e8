"""One contract for the access ports, run against the in-memory fakes and the DynamoDB
adapters (moto, tables created from infra/resources.json): keys saved all-or-nothing under
their version, lookups readable by authentication, last use written conditionally; audit
entries append-only with their TTL, queried by time range, actor and action, page by page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.deps import Container
from chalicelib.domain.api_keys import disable_key, issue_key, rotate_key
from chalicelib.domain.audit import AuditEntry, AuditQuery, new_entry
from chalicelib.domain.auth import ApiKeyAuthenticator, hash_api_key
from chalicelib.domain.errors import (
    AlreadyProcessed,
    ConcurrentUpdate,
    InvalidPayload,
    Unauthenticated,
)
from chalicelib.domain.ports import Principal
from tests.access_fakes import FakeApiKeys, FakeAuditLog
from tests.fakes import FakeCatalog

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@dataclass
class Access:
    keys: Any
    catalog: Any  # what authentication reads the lookups from
    audit: Any


@pytest.fixture(params=["fake", "dynamodb"])
def access(request) -> Access:
    if request.param == "fake":
        catalog = FakeCatalog()
        return Access(FakeApiKeys(catalog), catalog, FakeAuditLog())
    deps: Container = request.getfixturevalue("container")
    return Access(deps.api_keys, deps.catalog_store, deps.audit_log)


# ---- API keys -----------------------------------------------------------------------------


def test_issued_key_is_listed_and_authenticates(access):
    issued = issue_key("alice", "cs", NOW)
    access.keys.save_key(issued.key)
    assert access.keys.get_key(issued.key.key_id) == issued.key
    assert [k.key_id for k in access.keys.list_keys()] == [issued.key.key_id]
    lookup = access.catalog.get_api_key(hash_api_key(issued.secret))
    assert lookup["key_id"] == issued.key.key_id and lookup["role"] == "cs"
    assert ApiKeyAuthenticator(access.catalog).authenticate(f"Bearer {issued.secret}", NOW)
    assert access.keys.get_key("nope") is None


def test_a_key_id_is_created_once(access):
    issued = issue_key("alice", "cs", NOW, key_id="key_fixed")
    access.keys.save_key(issued.key)
    with pytest.raises(ConcurrentUpdate):
        access.keys.save_key(issue_key("bob", "admin", NOW, key_id="key_fixed").key)
    assert access.keys.get_key("key_fixed").owner == "alice"


def test_rotation_and_revocation_reach_every_secret(access):
    first = issue_key("alice", "ops", NOW)
    access.keys.save_key(first.key)
    second = rotate_key(first.key, NOW)
    access.keys.save_key(second.key, second.retired)
    auth = ApiKeyAuthenticator(access.catalog)
    for secret in (first.secret, second.secret):
        assert auth.authenticate(f"Bearer {secret}", NOW).key_id == first.key.key_id
    with pytest.raises(Unauthenticated, match="rotation"):
        auth.authenticate(f"Bearer {first.secret}", NOW + timedelta(days=1))
    with pytest.raises(ConcurrentUpdate):  # a stale copy cannot overwrite the rotation
        access.keys.save_key(disable_key(first.key, NOW, "stale"))
    access.keys.save_key(disable_key(second.key, NOW, "left"))
    for secret in (first.secret, second.secret):
        with pytest.raises(Unauthenticated, match="disabled"):
            auth.authenticate(f"Bearer {secret}", NOW)
    stored = access.keys.get_key(first.key.key_id)
    assert stored.disabled and stored.disabled_reason == "left" and stored.version == 3


def test_last_use_is_written_only_when_older_than_the_window(access):
    issued = issue_key("alice", "cs", NOW)
    access.keys.save_key(issued.key)
    hour = timedelta(hours=1)
    assert access.keys.touch_key(issued.key.key_id, NOW, NOW - hour) is True
    assert access.keys.touch_key(issued.key.key_id, NOW + 10 * hour / 60, NOW) is False
    assert access.keys.get_key(issued.key.key_id).last_used_at == NOW
    assert access.keys.touch_key(issued.key.key_id, NOW + 2 * hour, NOW + hour) is True
    assert access.keys.get_key(issued.key.key_id).last_used_at == NOW + 2 * hour
    assert access.keys.touch_key("missing", NOW, NOW) is False
    assert access.keys.get_key("missing") is None  # touching never creates a record


# ---- audit --------------------------------------------------------------------------------


def entry(at: datetime, owner="alice", action="stock.adjust", n: int = 0) -> AuditEntry:
    return new_entry(
        Principal("k1", owner, "admin"),
        action,
        f"target/{n}",
        at,
        before={"on_hand": 1},
        after={"on_hand": 2},
        source_ip="203.0.113.9",
        user_agent="curl/8",
    )


def every_page(log, query: AuditQuery) -> tuple[list[AuditEntry], int]:
    found, pages = [], 0
    while True:
        page = log.query(query)
        assert len(page.entries) <= query.limit
        found += page.entries
        pages += 1
        if not page.next_token:
            return found, pages
        query = AuditQuery(
            query.start, query.end, query.actor, query.action, query.limit, page.next_token
        )


def test_entries_are_append_only_and_read_back_whole(access):
    written = entry(NOW)
    access.audit.append(written)
    with pytest.raises(AlreadyProcessed):
        access.audit.append(written)
    (read,) = access.audit.query(AuditQuery(NOW - timedelta(hours=1), NOW)).entries
    assert read == written


def test_entries_carry_a_ttl_at_least_180_days_out(container):
    """A table detail, so DynamoDB only: the item's TTL attribute, as the table stores it."""
    container.audit_log.append(entry(NOW))
    table = container.settings.audit_table
    (item,) = container._client("dynamodb").scan(TableName=table)["Items"]
    expires = datetime.fromtimestamp(int(item["expires_at"]["N"]), tz=UTC)
    assert expires - NOW >= timedelta(days=180)
    assert expires - NOW == timedelta(days=400)


def test_query_by_time_range_pages_across_days_newest_first(access):
    written = [entry(NOW - timedelta(hours=7 * i), n=i) for i in range(12)]  # 3.5 days back
    for e in written:
        access.audit.append(e)
    query = AuditQuery(NOW - timedelta(hours=7 * 9), NOW - timedelta(hours=7), limit=3)
    found, pages = every_page(access.audit, query)
    assert [e.target for e in found] == [f"target/{i}" for i in range(1, 10)]
    assert pages >= 3
    assert access.audit.query(AuditQuery(NOW - timedelta(days=30), NOW, limit=1000)).entries
    empty = AuditQuery(NOW - timedelta(days=60), NOW - timedelta(days=40))
    assert every_page(access.audit, empty)[0] == []


def test_query_by_actor_and_action(access):
    for i in range(4):
        access.audit.append(entry(NOW - timedelta(days=i), "alice", "stock.adjust", i))
        access.audit.append(entry(NOW - timedelta(days=i), "bob", "api_key.issue", 10 + i))
    access.audit.append(entry(NOW - timedelta(days=1, hours=1), "alice", "api_key.issue", 99))
    start = NOW - timedelta(days=2, hours=1)

    def targets(**filters: Any) -> list[str]:
        found, _ = every_page(access.audit, AuditQuery(start, NOW, limit=2, **filters))
        return [e.target for e in found]

    assert targets(actor="alice") == ["target/0", "target/1", "target/99", "target/2"]
    assert targets(action="api_key.issue") == ["target/10", "target/11", "target/99", "target/12"]
    assert targets(actor="alice", action="api_key.issue") == ["target/99"]
    assert targets(actor="carol") == []


def test_a_foreign_token_is_refused(access):
    for i in range(3):
        access.audit.append(entry(NOW - timedelta(minutes=i), n=i))
    query = AuditQuery(NOW - timedelta(hours=1), NOW, limit=1)
    token = access.audit.query(query).next_token
    assert token
    with pytest.raises(InvalidPayload):
        access.audit.query(AuditQuery(query.start, NOW, action="other", limit=1, token=token))
    with pytest.raises(InvalidPayload):
        access.audit.query(AuditQuery(query.start, NOW, limit=1, token="not-a-token"))


def test_audit_table_has_ttl_enabled(container):
    ddb = container._client("dynamodb")
    ttl = ddb.describe_time_to_live(TableName=container.settings.audit_table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"
    assert ttl["TimeToLiveDescription"]["TimeToLiveStatus"] == "ENABLED"
