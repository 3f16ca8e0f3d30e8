"""Issue 12, item 6: store secrets carry their age (a reminder at 80 days), and a store unused
for 90 days is disabled until re-enabled: its deliveries are refused, its pollers skip it."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.domain.ports import Store
from chalicelib.domain.rotation import rotate
from chalicelib.domain.store_review import secret_set_at
from tests.builders import body, mall_payload
from tests.unit.test_http_api import SECRET, post_webhook, signed_headers
from tests.unit.test_review_api_keys import run_review


def add_store(deps, store_id: str, set_days_ago: int | None, stamped: bool = True) -> None:
    name = f"secret/{store_id}"
    deps.catalog.put_store(Store("mall", store_id, name))
    secret: dict = {"webhook_secret": SECRET}
    if set_days_ago is not None:
        moment = deps.now() - timedelta(days=set_days_ago)
        if stamped:
            secret["secret_set_at"] = moment.isoformat()
        else:
            deps.secret_store.changed[name] = moment  # Secrets Manager's own date
    deps.secrets.secrets[name] = secret


def receipt(deps, store_id: str, days_ago: int) -> None:
    at = deps.now() - timedelta(days=days_ago)
    deps.trail.record_receipt(f"mall#{store_id}#d{days_ago}", "mall", store_id, at, 5, "m")


def test_aging_secrets_are_reminded_and_unused_stores_disabled(client, deps):
    add_store(deps, "aging", 85)
    receipt(deps, "aging", 0)
    add_store(deps, "idle", 100)
    add_store(deps, "idle-unstamped", 95, stamped=False)
    add_store(deps, "quiet-but-used", 120)
    receipt(deps, "quiet-but-used", 60)
    add_store(deps, "new", 30)
    stores = run_review(client)["stores"]
    assert stores["secrets_aging"] == [
        "mall/aging",
        "mall/idle",
        "mall/idle-unstamped",
        "mall/quiet-but-used",
    ]
    assert sorted(stores["disabled"]) == ["mall/idle", "mall/idle-unstamped"]
    assert deps.orders.get_anomaly("store_secret_aging", "mall/aging")["priority"] == "P2"
    assert deps.orders.get_anomaly("store_unused", "mall/idle")["priority"] == "P2"
    assert deps.catalog.get_store("mall", "idle").disabled
    assert not deps.catalog.get_store("mall", "quiet-but-used").disabled
    assert not deps.catalog.get_store("mall", "new").disabled
    entries = [e for e in deps.audit_log.all() if e.action == "store.disable"]
    assert {e.target for e in entries} == {"store/mall/idle", "store/mall/idle-unstamped"}


def test_a_disabled_store_refuses_deliveries_until_re_enabled(client, deps):
    add_store(deps, "idle", 100)
    run_review(client)
    raw = body(mall_payload())
    refused = post_webhook(client, raw, signed_headers(raw, deps), "/webhooks/mall/idle")
    assert refused.status_code == 403 and "stores enable" in refused.json_body["message"]
    assert deps.queue.messages == []
    from dataclasses import replace

    store = deps.catalog.get_store("mall", "idle")
    deps.catalog.put_store(replace(store, disabled=False, disabled_reason=""))
    accepted = post_webhook(client, raw, signed_headers(raw, deps), "/webhooks/mall/idle")
    assert accepted.status_code == 202, accepted.body


def test_a_rotation_stamps_the_secret_with_its_new_age(deps):
    now = deps.now()
    rotated = rotate({"webhook_secret": "old"}, "new", now)
    assert secret_set_at(rotated, None) == now
    assert secret_set_at({"webhook_secret": "x"}, now - timedelta(days=3)) == now - timedelta(
        days=3
    )
