"""POST /orders/{platform}/{store}/{order_id}/personal-data: the buyer in clear for callers who
hold `decrypt` and state a reason, once another person approved (the two-person rule; its own
cases in test_two_person_decrypt.py); every answer audited, never with the plaintext."""

from __future__ import annotations

import json

import pytest

from chalicelib.domain.api_keys import issue_key
from chalicelib.domain.permissions import ROLES, Permission, permissions_of
from tests.builders import body, mall_payload
from tests.unit.test_http_api import post_webhook, signed_headers
from tests.unit.test_personal_data_sealing import EMAIL, ID_NUMBER, PHONE, STREET, process

PATH = "/orders/mall/demo-shop/o-1/personal-data"
REASON = "buyer called: courier cannot reach the number on the label"


def role_key(deps, role: str) -> str:
    secret = f"key-of-{role}"
    deps.api_keys.save_key(issue_key(role, role, deps.now(), secret=secret, key_id=f"k-{role}").key)
    return secret


def booked(client, deps) -> bytes:
    payload = mall_payload()
    payload["data"]["buyer"] = {
        "name": "Li Lei",
        "phone": PHONE,
        "address": f"{STREET}, Shanghai",
        "email": EMAIL,
        "id_number": ID_NUMBER,
    }
    raw = body(payload)
    assert post_webhook(client, raw, signed_headers(raw, deps)).status_code == 202
    process(client, deps)
    return raw


APPROVER = "test-admin-key"  # the fixture's admin, owner "t": another person than any role_key


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def ask(client, key: str, payload: object = None, path: str = PATH):
    data = json.dumps({"reason": REASON} if payload is None else payload)
    return client.http.post(path + "/requests", headers=_headers(key), body=data)


def approve(client, request_id: str, key: str = APPROVER):
    return client.http.post(
        f"/personal-data/requests/{request_id}/approve", headers=_headers(key), body=b""
    )


def reveal(client, key: str, request_id: str, query: str = "", path: str = PATH):
    data = json.dumps({"request_id": request_id})
    return client.http.post(path + query, headers=_headers(key), body=data)


def decrypt(client, key: str, payload: object = None, query: str = ""):
    """Ask (with `payload` as the request's body), have the fixture's admin approve, reveal;
    the first refusal is the answer."""
    asked = ask(client, key, payload)
    if asked.status_code != 201:
        return asked
    request_id = asked.json_body["request_id"]
    approved = approve(client, request_id)
    assert approved.status_code == 200, approved.body
    return reveal(client, key, request_id, query)


def audited(deps) -> list[dict]:
    return [e.to_dict() for e in deps.audit_log.all() if e.action == "personal_data.decrypt"]


def test_customer_service_sees_the_buyer_in_clear_with_a_reason_and_it_is_audited(client, deps):
    booked(client, deps)
    response = decrypt(client, role_key(deps, "cs"))
    assert response.status_code == 200, response.body
    assert response.json_body == {
        "order_key": "mall#demo-shop#o-1",
        "buyer": {
            "name": "Li Lei",
            "phone": PHONE,
            "address": f"{STREET}, Shanghai",
            "email": EMAIL,
            "id_number": ID_NUMBER,
        },
    }
    assert response.headers["Cache-Control"] == "no-store"
    (entry,) = audited(deps)
    assert entry["actor"] == "cs" and entry["role"] == "cs" and entry["key_id"] == "k-cs"
    assert entry["target"] == "order/mall#demo-shop#o-1" and entry["at"]
    after = entry["after"] if isinstance(entry["after"], dict) else json.loads(entry["after"])
    assert after["reason"] == REASON
    assert after["fields"] == ["name", "phone", "address", "email", "id_number"]
    text = json.dumps(entry, ensure_ascii=False)
    for secret in (PHONE, ID_NUMBER, EMAIL, STREET, "Li Lei"):
        assert secret not in text  # who, when, why and what, never the values


@pytest.mark.parametrize("role", list(ROLES))
def test_only_roles_holding_decrypt_may_call_it(client, deps, role):
    booked(client, deps)
    response = decrypt(client, role_key(deps, role))
    if Permission.DECRYPT in permissions_of(role):
        assert response.status_code == 200, response.body
        assert len(audited(deps)) == 1
    else:
        assert response.status_code == 403
        assert "'decrypt'" in response.json_body["message"]
        assert audited(deps) == []
    assert {r for r in ROLES if Permission.DECRYPT in permissions_of(r)} == {"admin", "cs"}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"reason": ""},
        {"reason": "because"},
        {"reason": "   short    "},
        {"reason": 12345678901},
        ["a reason of enough length"],
        {"reason": "x" * 501},
    ],
)
def test_a_reason_of_10_to_500_characters_is_required(client, deps, payload):
    booked(client, deps)
    response = decrypt(client, role_key(deps, "cs"), payload)
    assert response.status_code == 400
    assert response.json_body["error"] == "invalid_payload"
    assert "reason" in response.json_body["message"]
    assert "buyer" not in response.json_body and audited(deps) == []


def test_a_body_that_is_not_json_is_refused(client, deps):
    booked(client, deps)
    headers = {
        "Authorization": f"Bearer {role_key(deps, 'cs')}",
        "Content-Type": "application/json",
    }
    response = client.http.post(PATH, headers=headers, body=b"{not json")
    assert response.status_code == 400 and audited(deps) == []
    response = client.http.post(PATH + "/requests", headers=headers, body=b"{not json")
    assert response.status_code == 400 and deps.reveals.requests == {}


def test_a_phone_number_typed_into_the_reason_is_masked_in_the_audit(client, deps):
    booked(client, deps)
    reason = "buyer on 139 5550 1234 asks; also wrote 13955501234"
    assert decrypt(client, role_key(deps, "cs"), {"reason": reason}).status_code == 200
    (entry,) = audited(deps)
    text = json.dumps(entry)
    assert "139 5550 1234" not in text and PHONE not in text
    assert "buyer on [phone] asks; also wrote [phone]" in text  # scrubbed when asked


def test_include_raw_opens_the_last_events_payload_too(client, deps):
    raw = booked(client, deps)
    admin = role_key(deps, "admin")
    response = decrypt(client, admin, query="?include=raw")
    assert response.status_code == 200, response.body
    assert response.json_body["raw"] == {
        "event_key": "mall#demo-shop#msg_1",
        "payload": raw.decode(),
    }
    (entry,) = audited(deps)
    after = entry["after"] if isinstance(entry["after"], dict) else json.loads(entry["after"])
    assert after["raw_payload_of"] == "mall#demo-shop#msg_1"
    assert ID_NUMBER not in json.dumps(entry)
    assert decrypt(client, admin, query="?include=lines").status_code == 400


def test_an_unknown_order_is_404_and_nothing_is_audited(client, deps):
    cs = role_key(deps, "cs")
    response = decrypt(client, cs)
    assert response.status_code == 404 and audited(deps) == []
    response = reveal(client, cs, "rv_none")
    assert response.status_code == 404 and audited(deps) == []


def test_without_decrypt_the_order_shows_masks_only(client, deps):
    booked(client, deps)
    shown = client.http.get(
        "/orders/mall/demo-shop/o-1", headers={"Authorization": f"Bearer {role_key(deps, 'ops')}"}
    )
    assert shown.status_code == 200
    text = json.dumps(shown.json_body)
    for secret in (PHONE, ID_NUMBER, EMAIL, STREET, "Li Lei"):
        assert secret not in text
    assert shown.json_body["buyer"]["phone"] == "139****1234"
