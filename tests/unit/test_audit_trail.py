"""The audit trail over the fake stack: privileged actions leave entries (who, what, when,
from where, before/after) with a TTL of at least 180 days; admins query them by time, actor
and action, page by page; a failed audit write is logged and counted, never hidden."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.domain.audit import (
    MIN_RETENTION_DAYS,
    SYSTEM,
    AuditQuery,
    days_newest_first,
    new_entry,
)
from chalicelib.domain.errors import AlreadyProcessed, InvalidPayload, TransientFailure
from chalicelib.domain.ports import Principal
from chalicelib.settings import _REQUIRED, ConfigError, Settings
from tests.fakes import FixedClock
from tests.unit.test_http_api import KEY, book_paid_order

ADMIN = {
    "Authorization": f"Bearer {KEY}",
    "Content-Type": "application/json",
    "User-Agent": "wms-client/2.1",
}


def test_entries_expire_no_sooner_than_180_days():
    now = FixedClock()()
    entry = new_entry(SYSTEM, "stock.adjust", "inventory/A/w1", now)
    assert entry.expires_at - now == timedelta(days=400)
    assert new_entry(SYSTEM, "x", "y", now, 180).expires_at - now == timedelta(days=180)
    with pytest.raises(ValueError, match="180"):
        new_entry(SYSTEM, "x", "y", now, 179)


def test_settings_refuse_a_retention_under_180_days():
    env = {var: "x" for var in _REQUIRED.values()} | {"AWS_REGION": "us-east-1"}
    assert Settings.from_env(env).audit_retention_days == 400
    assert Settings.from_env(env | {"ORDERHUB_AUDIT_RETENTION_DAYS": "180"}).audit_retention_days
    with pytest.raises(ConfigError, match=str(MIN_RETENTION_DAYS)):
        Settings.from_env(env | {"ORDERHUB_AUDIT_RETENTION_DAYS": "90"})


def test_the_log_is_append_only(deps):
    entry = new_entry(SYSTEM, "x", "y", deps.now())
    deps.audit_log.append(entry)
    with pytest.raises(AlreadyProcessed):
        deps.audit_log.append(entry)


def test_days_of_a_range_newest_first():
    now = FixedClock()()
    assert days_newest_first(now - timedelta(days=2), now) == [
        "2026-11-25",
        "2026-11-24",
        "2026-11-23",
    ]


def test_stock_adjustment_is_audited_with_before_and_after(client, deps):
    receipt = {
        "adjustment_id": "a1",
        "warehouse": "w1",
        "kind": "receipt",
        "quantity": 5,
        "reason": "PO 4711",
    }
    for _ in range(2):  # the duplicate changes nothing and is not audited again
        response = client.http.post(
            "/inventory/SKU-A/adjustments", headers=ADMIN, body=json.dumps(receipt)
        )
        assert response.status_code == 200
    (entry,) = deps.audit_log.all()
    assert (entry.action, entry.target) == ("stock.adjust", "inventory/SKU-A/w1")
    assert (entry.actor.key_id, entry.actor.owner, entry.actor.role) == ("k", "t", "admin")
    assert entry.at == deps.now()
    assert (entry.source_ip, entry.user_agent) == ("127.0.0.1", "wms-client/2.1")
    assert entry.before["on_hand"] == 5 and entry.after["on_hand"] == 10
    assert entry.after["reason"] == "PO 4711"
    assert entry.expires_at >= entry.at + timedelta(days=180)


def test_wms_confirmation_is_audited_without_buyer_data(client, deps):
    book_paid_order(client, deps)
    confirmation = {
        "confirmation_id": "wms-1",
        "platform": "mall",
        "store": "demo-shop",
        "order_id": "o-1",
        "lines": [{"sku": "SKU-A", "quantity": 2}],
    }
    response = client.http.post(
        "/wms/outbound-confirmations", headers=ADMIN, body=json.dumps(confirmation)
    )
    assert response.status_code == 200
    (entry,) = deps.audit_log.all()
    assert (entry.action, entry.target) == ("wms.confirm", "order/mall#demo-shop#o-1")
    assert entry.before["booking"] == "locked" and entry.after["booking"] == "shipped"
    text = json.dumps(entry.to_dict())
    assert "13812345678" not in text and "buyer" not in text


def test_a_failed_audit_write_keeps_the_answer_and_is_logged(client, deps, capsys, caplog):
    deps.audit_log.failing = TransientFailure("table unavailable")
    receipt = {"adjustment_id": "a2", "warehouse": "w1", "kind": "receipt", "quantity": 1}
    receipt["reason"] = "found one"
    response = client.http.post(
        "/inventory/SKU-A/adjustments", headers=ADMIN, body=json.dumps(receipt)
    )
    assert response.status_code == 200
    (record,) = [r for r in caplog.records if r.getMessage() == "audit entry not stored"]
    assert record.levelname == "ERROR" and record.audit["action"] == "stock.adjust"
    assert "AuditWriteFailures" in capsys.readouterr().out  # the metric, for an alarm


def seed_entries(deps, count: int, action: str = "stock.adjust", owner: str = "t"):
    actor = Principal("k", owner, "admin")
    for i in range(count):
        at = deps.now() - timedelta(hours=6 * i)
        deps.audit_log.append(new_entry(actor, action, f"t/{i}", at))


def test_admin_pages_through_the_log_newest_first(client, deps):
    seed_entries(deps, 10)  # one every 6 hours: 2.25 days back
    start = (deps.now() - timedelta(days=3)).isoformat()
    seen, token, pages = [], None, 0
    while True:
        params = {"from": start, "limit": "4", **({"next": token} if token else {})}
        response = client.http.get(
            "/admin/audit?" + "&".join(f"{k}={v}" for k, v in params.items()).replace("+", "%2B"),
            headers=ADMIN,
        )
        assert response.status_code == 200, response.body
        body = response.json_body
        assert len(body["entries"]) <= 4
        seen += body["entries"]
        pages += 1
        token = body["next"]
        if not token:
            break
    assert [e["target"] for e in seen] == [f"t/{i}" for i in range(10)]
    assert pages >= 3


def test_audit_query_filters_by_actor_and_action(client, deps):
    seed_entries(deps, 3, "stock.adjust", "alice")
    seed_entries(deps, 2, "api_key.issue", "alice")
    seed_entries(deps, 2, "stock.adjust", "bob")
    since = (deps.now() - timedelta(days=2)).isoformat().replace("+", "%2B")

    def targets(query: str) -> list[str]:
        response = client.http.get(f"/admin/audit?from={since}&{query}", headers=ADMIN)
        assert response.status_code == 200, response.body
        return [(e["actor"], e["action"]) for e in response.json_body["entries"]]

    assert set(targets("actor=alice")) == {("alice", "stock.adjust"), ("alice", "api_key.issue")}
    assert len(targets("actor=alice")) == 5
    assert len(targets("action=stock.adjust")) == 5
    assert targets("actor=alice&action=api_key.issue") == [("alice", "api_key.issue")] * 2


@pytest.mark.parametrize(
    "query",
    ["from=yesterday", "from=2026-11-25T00:00:00", "limit=0", "limit=5000", "next=garbage"],
)
def test_bad_audit_queries_are_400(client, deps, query):
    response = client.http.get(f"/admin/audit?{query}", headers=ADMIN)
    assert response.status_code == 400 and response.json_body["error"] == "invalid_payload"


def test_a_token_of_another_query_is_refused(deps):
    seed_entries(deps, 5)
    first = AuditQuery(deps.now() - timedelta(days=2), deps.now(), limit=2)
    page = deps.audit_log.query(first)
    assert page.next_token
    other = AuditQuery(first.start, first.end, actor="someone", token=page.next_token)
    with pytest.raises(InvalidPayload):
        deps.audit_log.query(other)
