"""Roles, keys and the audit log on the running local stack: an admin issues keys, the
warehouse adjusts stock, customer service may not (403), rotation overlaps, revocation
refuses, the daily review runs, and every privileged action has an audit entry with its TTL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import requests

SKU = "E2E-ACCESS-SKU"  # a SKU of its own: the other tests' stock stays as they expect it


def issue(stack, owner: str, role: str) -> dict:
    response = requests.post(
        f"{stack.api}/admin/api-keys",
        json={"owner": owner, "role": role},
        headers=stack.auth,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def receive(stack, key: str, adjustment_id: str) -> requests.Response:
    return requests.post(
        f"{stack.api}/inventory/{SKU}/adjustments",
        json={
            "adjustment_id": adjustment_id,
            "warehouse": "wh-guangzhou",
            "kind": "receipt",
            "quantity": 3,
            "reason": "e2e access",
        },
        headers={"Authorization": f"Bearer {key}", "User-Agent": "e2e-wms"},
        timeout=10,
    )


def audit(stack, **params: str) -> list[dict]:
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    response = requests.get(
        f"{stack.api}/admin/audit",
        params={"from": since, "limit": "1000", **params},
        headers=stack.auth,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["entries"])


def test_roles_keys_and_audit_on_the_stack(stack):
    tag = uuid.uuid4().hex[:6]
    warehouse = issue(stack, f"wh-{tag}", "warehouse")
    cs = issue(stack, f"cs-{tag}", "cs")

    assert receive(stack, warehouse["key"], f"e2e-{tag}-1").status_code == 200
    refused = receive(stack, cs["key"], f"e2e-{tag}-2")
    assert refused.status_code == 403
    assert "'adjust_stock'" in refused.json()["message"] and "'cs'" in refused.json()["message"]
    assert receive(stack, "nope", f"e2e-{tag}-3").status_code == 401
    assert requests.post(f"{stack.api}/inventory/{SKU}/adjustments", timeout=10).status_code == 401

    rotated = requests.post(
        f"{stack.api}/admin/api-keys/{warehouse['key_id']}/rotate",
        json={"overlap_hours": 1},
        headers=stack.auth,
        timeout=10,
    )
    assert rotated.status_code == 200, rotated.text
    assert receive(stack, warehouse["key"], f"e2e-{tag}-4").status_code == 200  # overlap
    assert receive(stack, rotated.json()["key"], f"e2e-{tag}-5").status_code == 200

    unused = issue(stack, f"temp-{tag}", "ops")
    revoke = f"{stack.api}/admin/api-keys/{unused['key_id']}/revoke"
    assert requests.post(revoke, headers=stack.auth, timeout=10).status_code == 200
    gone = requests.get(
        f"{stack.api}/ops/dlq", headers={"Authorization": f"Bearer {unused['key']}"}, timeout=10
    )
    assert gone.status_code == 401 and "disabled" in gone.json()["message"]

    listed = stack.get("/admin/api-keys").json()["keys"]
    assert unused["key"] not in str(listed)
    dev = next(k for k in listed if k["key_id"] == "dev-admin")
    assert dev["role"] == "admin" and dev["last_used_at"]

    review = stack.run_job("review_api_keys")
    assert review["disabled"] == [] and review["expiring"] == []

    adjustments = audit(stack, action="stock.adjust", actor=f"wh-{tag}")
    assert len(adjustments) == 3  # the refused and unauthenticated attempts changed nothing
    entry = adjustments[-1]
    assert entry["target"] == f"inventory/{SKU}/wh-guangzhou"
    assert entry["role"] == "warehouse" and entry["source_ip"] == "127.0.0.1"
    assert entry["user_agent"] == "e2e-wms" and entry["after"]["on_hand"] >= 3
    expires = datetime.fromisoformat(entry["expires_at"])
    assert expires - datetime.fromisoformat(entry["at"]) >= timedelta(days=180)
    for action, key_id in [
        ("api_key.issue", warehouse["key_id"]),
        ("api_key.issue", cs["key_id"]),
        ("api_key.rotate", warehouse["key_id"]),
        ("api_key.revoke", unused["key_id"]),
    ]:
        found = [e for e in audit(stack, action=action) if e["target"] == f"api_key/{key_id}"]
        assert len(found) == 1 and found[0]["key_id"] == "dev-admin", (action, key_id)

    items = stack.client("dynamodb").scan(TableName="orderhub-audit")["Items"]
    assert items and all(int(i["expires_at"]["N"]) > datetime.now(UTC).timestamp() for i in items)
