"""The anomaly engine through the real app over the fake stack, with the clock moved by
time-machine: every time-based rule's trigger boundary, SLA escalation for every rule,
acknowledge, resolve, recurrence, the API's permissions and listing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from app import app
from chalicelib.domain import anomalies as engine
from chalicelib.domain.anomaly_rules import RULES
from chalicelib.domain.api_keys import issue_key
from chalicelib.domain.booking import BookingContext
from chalicelib.domain.model import Anomaly
from chalicelib.domain.processing import process_order_event, ship_order
from chalicelib.domain.stock_ops import OutboundConfirmation, ShippedLine
from chalicelib.domain.timeutil import utc_now
from local.lambda_runtime import LocalLambdaContext, scheduled_event
from tests.builders import event
from tests.unit.test_http_api import KEY

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ADMIN = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}


@pytest.fixture
def clock(deps) -> Iterator[Any]:
    """The fake stack on the real clock, which time-machine moves (frozen between moves)."""
    with time_machine.travel(T0, tick=False) as traveller:
        deps.now = utc_now
        yield traveller


def at(traveller: Any, **delta: float) -> None:
    traveller.move_to(T0 + timedelta(**delta))


def scan() -> dict[str, Any]:
    name = "scan_anomalies"
    return app.handler_map[name](scheduled_event(name, "us-east-1"), LocalLambdaContext(name))


def key_for(deps, role: str) -> dict[str, str]:
    issued = issue_key(role, role, deps.now(), secret=f"key-{role}", key_id=f"k-{role}")
    deps.api_keys.save_key(issued.key)
    return {"Authorization": f"Bearer key-{role}", "Content-Type": "application/json"}


def path(key: str, verb: str = "") -> str:
    return engine.anomaly_path(key) + (f"/{verb}" if verb else "")


def book(deps, order_id: str, status: str, when: datetime, address: str | None = None) -> None:
    ev = event(order_id, status, updated_at=when.isoformat())
    if address is not None:
        ev = ev.__class__(**{**ev.__dict__, "buyer": ev.buyer.__class__("Li", "1", address)})
    process_order_event(ev, deps.orders, lambda: BookingContext(deps.now()))


def notices(deps, kind: str) -> list:
    return [n for n in deps.notifier.notices if n.kind == kind]


# ---- trigger boundaries of the time-based rules ----------------------------------------------


def test_paid_not_picked_opens_after_six_hours_not_before(client, deps, clock):
    book(deps, "o-1", "paid", T0)
    at(clock, hours=5, minutes=59)
    assert scan()["opened"] == []
    at(clock, hours=6, minutes=1)
    result = scan()
    assert result["opened"] == ["paid_not_picked#mall#s1#o-1"]
    assert result["announced"] == ["paid_not_picked#mall#s1#o-1"]
    [notice] = notices(deps, "anomaly_opened")
    assert (notice.priority, notice.audience) == ("P0", "warehouse")
    assert "paid_not_picked" in notice.title and "mall#s1#o-1" in notice.title


def test_paid_clock_starts_at_payment_not_at_creation(client, deps, clock):
    book(deps, "o-1", "unpaid", T0 - timedelta(hours=10))
    book(deps, "o-1", "paid", T0)
    at(clock, hours=5, minutes=59)
    assert scan()["opened"] == []
    at(clock, hours=6, minutes=1)
    assert scan()["opened"] == ["paid_not_picked#mall#s1#o-1"]


def test_shipped_order_never_counts_as_not_picked(client, deps, clock):
    book(deps, "o-1", "paid", T0)
    line = ShippedLine("SKU-A", 1, "w1")
    ship_order(OutboundConfirmation("c-1", "mall", "s1", "o-1", (line,)), deps.orders, deps.now)
    at(clock, hours=7)
    assert scan()["opened"] == []


def test_logistics_stalled_opens_after_48_hours_of_silence(client, deps, clock):
    book(deps, "o-2", "paid", T0 - timedelta(hours=1))
    book(deps, "o-2", "shipped", T0)  # the platform says shipped; the WMS has not confirmed
    at(clock, hours=47, minutes=59)
    assert "logistics_stalled#mall#s1#o-2" not in scan()["opened"]
    at(clock, hours=48, minutes=1)
    assert "logistics_stalled#mall#s1#o-2" in scan()["opened"]
    [notice] = [n for n in notices(deps, "anomaly_opened") if "logistics" in n.title]
    assert (notice.priority, notice.audience) == ("P1", "cs")


def test_after_sales_request_unanswered_for_a_day_opens(client, deps, clock):
    deps.after_sales.request("mall#s1#o-3", T0)
    deps.after_sales.request("mall#s1#o-4", T0, answered=True)
    at(clock, hours=23, minutes=59)
    assert scan()["opened"] == []
    at(clock, hours=24, minutes=1)
    assert scan()["opened"] == ["after_sales_unanswered#mall#s1#o-3"]


def test_dlq_not_empty_opens_once_while_messages_are_parked(client, deps, clock):
    assert scan()["opened"] == []
    deps.dead_letters.messages.append({"event_key": "mall#s1#x"})
    assert scan()["opened"] == ["dlq_not_empty#orders_dlq"]
    at(clock, minutes=5)
    assert scan()["opened"] == []  # still open: no second one, no new count
    assert deps.anomalies.get("dlq_not_empty#orders_dlq").occurrences == 1


def test_event_pending_boundary_is_the_configured_seconds(client, deps, clock):
    deps.trail.record_receipt("mall#demo-shop#e-1", "mall", "demo-shop", T0, 5, "m-1")
    name = "check_pending_events"
    run = app.handler_map[name]
    at(clock, minutes=4, seconds=59)
    assert run(scheduled_event(name, "us-east-1"), LocalLambdaContext(name))["alerted"] == []
    at(clock, minutes=5, seconds=1)
    alerted = run(scheduled_event(name, "us-east-1"), LocalLambdaContext(name))["alerted"]
    assert alerted == ["mall#demo-shop#e-1"]


def test_a_failing_source_does_not_stop_the_other_rules(client, deps, clock, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("SQS down")

    monkeypatch.setattr(deps, "depths", broken)
    book(deps, "o-1", "paid", T0)
    at(clock, hours=7)
    result = scan()
    assert result["opened"] == ["paid_not_picked#mall#s1#o-1"]
    assert result["rules_failed"] == ["dlq_not_empty: RuntimeError: SQS down"]


# ---- SLA escalation, for every rule ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_escalates_when_its_acknowledge_sla_passes(client, deps, clock, name):
    rule = RULES[name]
    deps.anomalies.open_anomaly(Anomaly(name, "subject-1", rule.priority, "d"), T0)
    assert scan()["announced"] == [f"{name}#subject-1"]
    ack = rule.sla.acknowledge
    clock.move_to(T0 + ack - timedelta(seconds=1))
    assert scan()["escalated"] == []
    clock.move_to(T0 + ack + timedelta(seconds=1))
    assert scan()["escalated"] == [f"{name}#subject-1"]
    [notice] = notices(deps, "anomaly_escalated")
    assert notice.audience == rule.escalation_audience(1)
    assert notice.priority == rule.priority.value and "level 1" in notice.title
    record = deps.anomalies.get(f"{name}#subject-1")
    assert record.escalation_level == 1 and record.due_at == T0 + 2 * ack


def test_escalation_repeats_each_period_and_stops_at_the_last_level(client, deps, clock):
    deps.anomalies.open_anomaly(
        Anomaly("out_of_stock", "o", RULES["out_of_stock"].priority, ""), T0
    )
    scan()
    levels = []
    for n in range(1, 6):
        at(clock, minutes=30 * n, seconds=1)
        scan()
        levels.append(deps.anomalies.get("out_of_stock#o").escalation_level)
    assert levels == [1, 2, 3, 3, 3]
    record = deps.anomalies.get("out_of_stock#o")
    assert record.due_at == engine.NEVER and record.active  # still listed, no longer due
    assert len(notices(deps, "anomaly_escalated")) == 3


def test_a_scan_that_fell_behind_escalates_one_level_not_all(client, deps, clock):
    deps.anomalies.open_anomaly(
        Anomaly("out_of_stock", "o", RULES["out_of_stock"].priority, ""), T0
    )
    scan()
    at(clock, hours=10)  # the scan did not run for 10 h
    scan()
    assert deps.anomalies.get("out_of_stock#o").escalation_level == 1


def test_acknowledge_stops_escalation_until_the_resolve_deadline(client, deps, clock):
    book(deps, "o-1", "paid", T0)
    at(clock, hours=6, minutes=1)
    scan()  # opened and announced at 06:01 (P0, warehouse: acknowledge 30 min, resolve 4 h)
    key = "paid_not_picked#mall#s1#o-1"
    at(clock, hours=6, minutes=10)
    answer = client.http.post(
        path(key, "acknowledge"), headers=key_for(deps, "warehouse"), body=b'{"note": "on it"}'
    )
    assert answer.status_code == 200, answer.body
    assert answer.json_body["status"] == "acknowledged"
    assert answer.json_body["acknowledged"]["note"] == "on it"
    at(clock, hours=6, minutes=40)  # past the acknowledge deadline (06:31)
    assert scan()["escalated"] == []
    at(clock, hours=10, minutes=0)  # resolve deadline 10:01
    assert scan()["escalated"] == []
    at(clock, hours=10, minutes=2)
    assert scan()["escalated"] == [key]
    [notice] = notices(deps, "anomaly_escalated")
    assert "not resolved within 4 h" in notice.body and "warehouse" in notice.body


def test_resolve_closes_keeps_the_episode_and_tells_the_escalation(client, deps, clock):
    deps.anomalies.open_anomaly(
        Anomaly("unknown_sku", "mall#s1#o-9", RULES["unknown_sku"].priority, "x"), T0
    )
    scan()
    at(clock, hours=2, minutes=1)
    scan()  # escalated to admin
    key = "unknown_sku#mall#s1#o-9"
    answer = client.http.post(path(key, "resolve"), headers=ADMIN, body=b'{"note": "mapped"}')
    assert answer.status_code == 200, answer.body
    episode = answer.json_body
    assert episode["status"] == "resolved" and episode["resolved"]["note"] == "mapped"
    assert episode["episode_of"] == key and episode["escalation_level"] == 1
    assert client.http.get("/anomalies", headers=ADMIN).json_body["anomalies"] == []
    resolved = client.http.get("/anomalies?status=resolved", headers=ADMIN).json_body
    assert [a["episode_of"] for a in resolved["anomalies"]] == [key]
    [notice] = notices(deps, "anomaly_resolved")
    assert notice.audience == "admin"
    at(clock, days=3)
    assert scan()["escalated"] == []  # resolved: never due again
    actions = [e.action for e in deps.audit_log.all()]
    assert actions == ["anomaly.resolve"]


def test_recurrence_after_resolution_reopens_and_is_announced_again(client, deps, clock):
    anomaly = Anomaly("out_of_stock", "mall#s1#o-5", RULES["out_of_stock"].priority, "short")
    deps.orders.open_anomaly(anomaly, T0)  # as the booking transaction does
    deps.orders.open_anomaly(anomaly, T0)
    scan()
    key = anomaly.key
    assert client.http.post(path(key, "resolve"), headers=ADMIN).status_code == 200
    at(clock, hours=1)
    deps.orders.open_anomaly(anomaly, deps.now())  # it happens again
    record = deps.anomalies.get(key)
    assert (record.status, record.opened_at, record.occurrences) == ("open", deps.now(), 1)
    assert record.resolved_count == 1 and record.escalation_level == 0
    assert scan()["announced"] == [key]
    reopened = notices(deps, "anomaly_opened")[-1]
    assert "reopened" in reopened.title
    assert deps.orders.get_anomaly("out_of_stock", "mall#s1#o-5")["status"] == "open"


def test_resolving_a_scan_rule_while_it_still_holds_reopens_at_the_next_scan(client, deps, clock):
    book(deps, "o-1", "paid", T0)
    at(clock, hours=6, minutes=1)
    scan()
    key = "paid_not_picked#mall#s1#o-1"
    assert client.http.post(path(key, "resolve"), headers=ADMIN).status_code == 200
    at(clock, hours=6, minutes=6)
    assert scan()["opened"] == [key]  # still not picked


def test_a_notice_nobody_took_is_tried_again_next_run(client, deps, clock):
    deps.anomalies.open_anomaly(
        Anomaly("clock_skew", "mall#s1", RULES["clock_skew"].priority, ""), T0
    )
    deps.notifier.error = RuntimeError("every route failed")
    assert scan()["notify_failed"] == ["clock_skew#mall#s1"]
    deps.notifier.error = None
    at(clock, minutes=5)
    assert scan()["announced"] == ["clock_skew#mall#s1"]


def test_acknowledged_before_announced_is_not_announced(client, deps, clock):
    deps.anomalies.open_anomaly(
        Anomaly("out_of_stock", "o", RULES["out_of_stock"].priority, ""), T0
    )
    assert client.http.post(path("out_of_stock#o", "acknowledge"), headers=ADMIN).status_code == 200
    assert scan()["announced"] == []
    assert notices(deps, "anomaly_opened") == []


# ---- the API -----------------------------------------------------------------------------------


def test_only_the_owner_role_or_admin_may_handle_an_anomaly(client, deps, clock):
    deps.anomalies.open_anomaly(
        Anomaly("inventory_drift", "SKU-A#w1", RULES["inventory_drift"].priority, "d"), T0
    )
    key = "inventory_drift#SKU-A#w1"
    refused = client.http.post(path(key, "acknowledge"), headers=key_for(deps, "cs"))
    assert refused.status_code == 403
    assert refused.json_body["error"] == "forbidden"
    assert "'warehouse'" in refused.json_body["message"]
    ok = client.http.post(path(key, "acknowledge"), headers=key_for(deps, "warehouse"))
    assert ok.status_code == 200 and ok.json_body["acknowledged"]["by"] == "warehouse"
    again = client.http.post(path(key, "acknowledge"), headers=ADMIN)
    assert again.status_code == 409 and again.json_body["error"] == "conflict"
    assert client.http.post(path(key, "resolve"), headers=ADMIN).status_code == 200
    closed = client.http.post(path(key, "resolve"), headers=ADMIN)
    assert closed.status_code == 409 and "already resolved" in closed.json_body["message"]
    [entry] = [e for e in deps.audit_log.all() if e.action == "anomaly.acknowledge"]
    assert entry.target == f"anomaly/{key}" and entry.actor.role == "warehouse"
    assert entry.before["status"] == "open" and entry.after["status"] == "acknowledged"


def test_unknown_anomaly_and_bad_note_get_clear_errors(client, deps, clock):
    missing = client.http.post(path("out_of_stock#nope", "acknowledge"), headers=ADMIN)
    assert missing.status_code == 404 and missing.json_body["error"] == "not_found"
    deps.anomalies.open_anomaly(
        Anomaly("out_of_stock", "o", RULES["out_of_stock"].priority, ""), T0
    )
    for raw in (b"{oops", b'{"note": 5}', b"[1]", json.dumps({"note": "x" * 1001}).encode()):
        bad = client.http.post(path("out_of_stock#o", "resolve"), headers=ADMIN, body=raw)
        assert bad.status_code == 400 and bad.json_body["error"] == "invalid_payload", raw


def test_list_filters_by_status_priority_and_rule(client, deps, clock):
    for name, subject in (("out_of_stock", "a"), ("unknown_sku", "b"), ("clock_skew", "c")):
        deps.anomalies.open_anomaly(Anomaly(name, subject, RULES[name].priority, ""), T0)
    client.http.post(path("clock_skew#c", "acknowledge"), headers=ADMIN)

    def keys(query: str) -> list[str]:
        answer = client.http.get(f"/anomalies{query}", headers=ADMIN)
        assert answer.status_code == 200, answer.body
        return [a["key"] for a in answer.json_body["anomalies"]]

    assert keys("") == ["out_of_stock#a", "unknown_sku#b", "clock_skew#c"]  # by priority
    assert keys("?status=open") == ["out_of_stock#a", "unknown_sku#b"]
    assert keys("?status=acknowledged") == ["clock_skew#c"]
    assert keys("?priority=P1") == ["unknown_sku#b"]
    assert keys("?rule=out_of_stock") == ["out_of_stock#a"]
    bad = client.http.get("/anomalies?status=closed", headers=ADMIN)
    assert bad.status_code == 400 and "status must be one of" in bad.json_body["message"]
    one = client.http.get(path("out_of_stock#a"), headers=key_for(deps, "cs")).json_body
    assert (
        one["owner"] == "ops" and one["acknowledge_by"] == (T0 + timedelta(minutes=30)).isoformat()
    )
    assert one["path"] == "/anomalies/out_of_stock%23a"


def test_a_suspicious_address_is_flagged_once_and_never_shown(client, deps, clock):
    book(deps, "o-7", "unpaid", T0, address="asdf")
    book(deps, "o-7", "paid", T0 + timedelta(minutes=1), address="asdf")  # same address
    record = deps.anomalies.get("suspicious_address#mall#s1#o-7")
    assert record is not None and record.occurrences == 1
    assert "asdf" not in record.detail and "shorter than 6" in record.detail
    scan()
    [notice] = notices(deps, "anomaly_opened")
    text = json.dumps([notice.title, notice.body, dict(notice.facts), notice.link])
    assert "asdf" not in text and notice.audience == "cs"


def test_a_resolution_stands_when_its_notice_cannot_be_sent(client, deps, clock):
    deps.anomalies.open_anomaly(
        Anomaly("out_of_stock", "o", RULES["out_of_stock"].priority, ""), T0
    )
    scan()
    at(clock, minutes=31)
    scan()  # escalated: its resolution will be told
    deps.notifier.error = RuntimeError("every route failed")
    answer = client.http.post(path("out_of_stock#o", "resolve"), headers=ADMIN)
    assert answer.status_code == 200 and answer.json_body["status"] == "resolved"
    assert [e.action for e in deps.audit_log.all()] == ["anomaly.resolve"]
