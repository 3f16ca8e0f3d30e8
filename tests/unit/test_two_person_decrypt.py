"""Issue 12, item 3: a reveal asked by one person shows the buyer only after a *different*
person holding `approve_decrypt` approved it, for that order, for 30 minutes, to the
requester's key; each step audited; over 20 reveals an hour by one key: 429 and a P1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.api_keys import issue_key
from chalicelib.domain.errors import Conflict, Forbidden, InvalidPayload
from chalicelib.domain.permissions import ROLES, Permission, permissions_of
from chalicelib.domain.principal import Principal
from chalicelib.domain.reveal import (
    MAX_REVEALS_PER_HOUR,
    check_grant,
    new_request,
    parse_reason,
)
from chalicelib.domain.reveal import (
    approve as approve_request,
)
from tests.unit.test_decrypt_endpoint import approve, ask, booked, reveal, role_key

CS = Principal("k-cs", "cs", "cs")
LEAD = Principal("k-ops", "ops", "ops")


def actions(deps) -> list[str]:
    return [e.action for e in deps.audit_log.all() if e.action.startswith("personal_data.")]


def test_asked_approved_by_another_then_revealed_each_step_audited(client, deps):
    booked(client, deps)
    cs, ops = role_key(deps, "cs"), role_key(deps, "ops")
    asked = ask(client, cs)
    assert asked.status_code == 201, asked.body
    request_id = asked.json_body["request_id"]
    assert asked.json_body["status"] == "pending"
    # nothing shows before the approval
    early = reveal(client, cs, request_id)
    assert early.status_code == 403 and "not approved" in early.json_body["message"]
    approved = approve(client, request_id, ops)
    assert approved.status_code == 200, approved.body
    assert approved.json_body["approved_by"]["owner"] == "ops"
    assert approved.json_body["valid_until"]
    shown = reveal(client, cs, request_id)
    assert shown.status_code == 200 and shown.json_body["buyer"]["phone"]
    assert actions(deps) == [
        "personal_data.request",
        "personal_data.approve",
        "personal_data.decrypt",
    ]


def test_nobody_approves_their_own_request(client, deps):
    booked(client, deps)
    admin = role_key(deps, "admin")  # admin holds both decrypt and approve_decrypt
    request_id = ask(client, admin).json_body["request_id"]
    refused = approve(client, request_id, admin)
    assert refused.status_code == 403 and "two-person" in refused.json_body["message"]
    # nor with a second key of the same owner
    deps.api_keys.save_key(issue_key("admin", "admin", deps.now(), secret="k2", key_id="k2").key)
    assert approve(client, request_id, "k2").status_code == 403
    assert reveal(client, admin, request_id).status_code == 403


@pytest.mark.parametrize("role", list(ROLES))
def test_only_roles_holding_approve_decrypt_may_approve(client, deps, role):
    booked(client, deps)
    keys = {r: role_key(deps, r) for r in {"cs", role}}
    request_id = ask(client, keys["cs"]).json_body["request_id"]
    response = approve(client, request_id, keys[role])
    if role == "cs":  # holds no approve_decrypt, and asked it: refused either way
        assert response.status_code == 403
    elif Permission.APPROVE_DECRYPT in permissions_of(role):
        assert response.status_code == 200, response.body
    else:
        assert response.status_code == 403 and "approve_decrypt" in response.json_body["message"]
    assert {r for r in ROLES if Permission.APPROVE_DECRYPT in permissions_of(r)} == {
        "admin",
        "ops",
    }


def test_the_grant_is_for_that_order_that_key_and_30_minutes(client, deps):
    booked(client, deps)
    cs = role_key(deps, "cs")
    request_id = ask(client, cs).json_body["request_id"]
    approve(client, request_id)
    other_order = reveal(client, cs, request_id, path="/orders/mall/demo-shop/o-9/personal-data")
    assert other_order.status_code == 404  # no such order; and for a real one:
    deps.api_keys.save_key(issue_key("cs2", "cs", deps.now(), secret="cs2", key_id="k-cs2").key)
    stolen = reveal(client, "cs2", request_id)
    assert stolen.status_code == 403 and "another key" in stolen.json_body["message"]
    deps.now.advance(minutes=29)
    assert reveal(client, cs, request_id).status_code == 200
    deps.now.advance(minutes=2)
    late = reveal(client, cs, request_id)
    assert late.status_code == 403 and "ended" in late.json_body["message"]


def test_a_second_approval_is_a_conflict_and_a_lapsed_request_cannot_be_approved(client, deps):
    booked(client, deps)
    cs = role_key(deps, "cs")
    first = ask(client, cs).json_body["request_id"]
    assert approve(client, first).status_code == 200
    assert approve(client, first, role_key(deps, "ops")).status_code == 409
    second = ask(client, cs).json_body["request_id"]
    deps.now.advance(hours=25)
    assert approve(client, second).status_code == 409


def test_over_20_reveals_an_hour_are_refused_with_a_p1(client, deps):
    booked(client, deps)
    cs = role_key(deps, "cs")
    request_id = ask(client, cs).json_body["request_id"]
    approve(client, request_id)
    for _ in range(MAX_REVEALS_PER_HOUR):
        assert reveal(client, cs, request_id).status_code == 200
    refused = reveal(client, cs, request_id)
    assert refused.status_code == 429
    assert refused.json_body["error"] == "too_many_reveals"
    assert "buyer" not in refused.json_body
    anomaly = deps.orders.get_anomaly("bulk_decrypt", "k-cs")
    assert anomaly["priority"] == "P1"
    assert "personal_data.bulk_refused" in actions(deps)
    # the next hour, the key may reveal again
    deps.now.advance(hours=1)
    request_id = ask(client, cs).json_body["request_id"]
    approve(client, request_id)
    assert reveal(client, cs, request_id).status_code == 200


@pytest.mark.parametrize(
    "reason", ["\x00" * 10, "x" * 10, "          ", "a\u0000bcdefghijk", "\ud800" * 12]
)
def test_a_reason_that_says_nothing_is_refused(reason):
    with pytest.raises(InvalidPayload):
        parse_reason({"reason": reason})


def test_the_rule_itself_pure():
    now = datetime(2026, 12, 1, 8, tzinfo=UTC)
    asked = new_request("mall#s#o", CS, "buyer called about the parcel", now, "rv_1")
    with pytest.raises(Forbidden):
        check_grant(asked, CS, "mall#s#o", now)
    with pytest.raises(Forbidden):
        approve_request(asked, CS, now)
    granted = approve_request(asked, LEAD, now + timedelta(minutes=1))
    assert check_grant(granted, CS, "mall#s#o", now + timedelta(minutes=30)) is granted
    with pytest.raises(Forbidden):
        check_grant(granted, CS, "mall#s#o", now + timedelta(minutes=31))
    with pytest.raises(Forbidden):
        check_grant(granted, LEAD, "mall#s#o", now + timedelta(minutes=2))
    with pytest.raises(Forbidden):
        check_grant(granted, CS, "mall#s#other", now + timedelta(minutes=2))
    with pytest.raises(Conflict):
        approve_request(granted, LEAD, now + timedelta(minutes=2))
