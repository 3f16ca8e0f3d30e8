"""The daily key review, run as Lambda runs it, on a frozen clock: keys expiring within 14
days raise a P2 anomaly (once, then repeats count) and a metric; keys unused for 90 days are
disabled, audited, and refused from then on."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from chalicelib.domain.api_keys import issue_key


def run_review(client):
    event = client.events.generate_cw_event("", "", {}, [])
    return client.lambda_.invoke("review_api_keys", event).payload


def test_review_warns_disables_and_audits(client, deps, capsys):
    now = deps.now()
    fresh = issue_key("fresh", "cs", now, secret="fresh-key", key_id="k-fresh")
    soon = issue_key("soon", "ops", now - timedelta(days=80), secret="soon-key", key_id="k-soon")
    # issued when keys could live a year: still valid, so the unused rule is what stops them
    year = now + timedelta(days=270)
    idle = issue_key("idle", "finance", now - timedelta(days=95), secret="idle-key")
    idle = replace(idle, key=replace(idle.key, key_id="k-idle", expires_at=year))
    used = issue_key("used", "warehouse", now - timedelta(days=95), key_id="k-used")
    used = replace(used, key=replace(used.key, expires_at=year))
    for issued in (fresh, soon, idle, used):
        deps.api_keys.save_key(issued.key)
    deps.api_keys.touch_key("k-soon", now - timedelta(days=1), now)
    deps.api_keys.touch_key("k-used", now - timedelta(days=80), now)
    deps.api_keys.touch_key("k", now, now)  # the fixture's admin key: in use

    result = run_review(client)

    stores = result.pop("stores")
    assert result == {"expiring": ["k-soon"], "warning_days": 14, "disabled": ["k-idle"]}
    assert stores == {"secrets_aging": [], "disabled": [], "age_unknown": ["mall/demo-shop"]}
    anomaly = deps.orders.get_anomaly("api_key_expiring", "k-soon")
    assert anomaly["priority"] == "P2" and "rotate" in anomaly["detail"]
    assert deps.api_keys.get_key("k-idle").disabled
    assert deps.api_keys.get_key("k-idle").disabled_reason == "unused for 90 days"
    assert not deps.api_keys.get_key("k-used").disabled
    (entry,) = deps.audit_log.all()
    assert (entry.action, entry.target, entry.actor.owner) == (
        "api_key.disable",
        "api_key/k-idle",
        "system",
    )
    assert entry.before["disabled"] is False and entry.after["disabled"] is True
    out = capsys.readouterr().out
    assert '"ApiKeysExpiringSoon":[1.0]' in out and '"ApiKeysDisabledUnused":[1.0]' in out

    refused = client.http.get(
        "/orders/mall/demo-shop/o-1", headers={"Authorization": "Bearer idle-key"}
    )
    assert refused.status_code == 401

    deps.now.advance(days=1)  # the next day: the warning repeats, nothing is disabled twice
    again = run_review(client)
    assert again["expiring"] == ["k-soon"] and again["disabled"] == []
    assert deps.orders.get_anomaly("api_key_expiring", "k-soon")["occurrences"] == 2
    assert len(deps.audit_log.all()) == 1
