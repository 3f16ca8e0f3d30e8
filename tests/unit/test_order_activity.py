"""Carrier tracks, pick lists, notes and review notes through the real handlers over the fake
stack, with the clock moved: a followed parcel whose track stops opens `logistics_stalled`
after 48 h of silence; a pick list keeps `paid_not_picked` quiet; notes are scrubbed and shown
with their author; review notes reach the next month's report."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from app import app
from chalicelib.channels.tracking_kuaidi100 import sign_kuaidi100
from chalicelib.domain.tracking import DELIVERED, track_key
from local.lambda_runtime import LocalLambdaContext, scheduled_event
from tests.builders import body, mall_payload
from tests.unit.test_http_api import post_webhook, signed_headers
from tests.unit.test_order_timeline import process_queued
from tests.unit.test_order_timeline import role_key as issue_role_key

SALT = "salt-1"
ORDER = "/orders/mall/demo-shop/o-1"
STALLED = "logistics_stalled#mall#demo-shop#o-1"
NOT_PICKED = "paid_not_picked#mall#demo-shop#o-1"


def role_key(deps, role: str) -> str:
    """A key of `role`, issued once per test."""
    issued = deps.__dict__.setdefault("_role_keys", {})
    if role not in issued:
        issued[role] = issue_role_key(deps, role)
    return str(issued[role])


def job(name: str) -> dict[str, Any]:
    return app.handler_map[name](scheduled_event(name, "us-east-1"), LocalLambdaContext(name))


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


def book_paid(client, deps, order_id: str = "o-1") -> None:
    raw = body(mall_payload(order_id, status="paid"))
    response = post_webhook(client, raw, signed_headers(raw, deps, f"d-{order_id}"))
    assert response.status_code == 202
    process_queued(client, deps)


def ship(client, deps, tracking: dict[str, str] | None, confirmation_id: str = "c-1"):
    confirmation: dict[str, Any] = {
        "confirmation_id": confirmation_id,
        "platform": "mall",
        "store": "demo-shop",
        "order_id": "o-1",
        "lines": [{"sku": "SKU-A", "quantity": 2}],
    }
    if tracking is not None:
        confirmation["tracking"] = tracking
    return client.http.post(
        "/wms/outbound-confirmations",
        headers=headers(role_key(deps, "warehouse")),
        body=json.dumps(confirmation),
    )


def push(client, checkpoints: list[tuple[datetime, str]], state: str = "0", sign: str = ""):
    """A 快递100 push of the whole track (newest first), signed with SALT."""
    rows = [
        {
            "context": text,
            "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ftime": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": "在途",
        }
        for at, text in sorted(checkpoints, reverse=True)
    ]
    param = json.dumps(
        {
            "status": "polling",
            "message": "",
            "lastResult": {
                "state": state,
                "ischeck": "1" if state == "3" else "0",
                "com": "yuantong",
                "nu": "YT100",
                "data": rows,
            },
        },
        ensure_ascii=False,
    )
    form = urlencode({"sign": sign or sign_kuaidi100(param, SALT), "param": param})
    return client.http.post(
        "/tracking/kuaidi100/callback",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=form,
    )


def timeline(client, deps) -> dict[str, Any]:
    response = client.http.get(f"{ORDER}/timeline", headers=headers(role_key(deps, "cs")))
    assert response.status_code == 200, response.body
    return dict(response.json_body)


def setup_tracking(deps) -> None:
    deps.secrets.secrets["orderhub/tracking/kuaidi100"] = {
        "key": "K",
        "customer": "C",
        "salt": SALT,
    }


def test_a_parcel_that_stops_moving_opens_logistics_stalled_after_48_hours(client, deps):
    setup_tracking(deps)
    book_paid(client, deps)
    deps.now.advance(hours=1)
    shipped = ship(client, deps, {"carrier": "yuantong", "number": "yt100"})
    assert shipped.status_code == 200, shipped.body
    assert shipped.json_body["tracking"]["provider"] == "kuaidi100"
    assert deps.tracking_providers["kuaidi100"].subscribed == [("yuantong", "YT100")]

    first = deps.now() + timedelta(hours=3)
    deps.now.advance(hours=3)
    assert push(client, [(first, "【深圳】已揽收，快递员 13800138000")]).json_body == {
        "result": True,
        "returnCode": "200",
        "message": "成功",
    }
    process_queued(client, deps)
    track = deps.tracks.get(track_key("yuantong", "YT100"))
    assert track is not None and track.last_event_at == first

    # 46 h of silence: nothing; the checkpoint moved the clock, not the subscription
    deps.now.advance(hours=46)
    assert STALLED not in job("scan_anomalies")["opened"]
    deps.now.advance(hours=2)
    assert STALLED in job("scan_anomalies")["opened"]
    stalled = deps.anomalies.get(STALLED)
    assert "silent for 48.0 h" in stalled.detail

    view = timeline(client, deps)
    tracks = [e for e in view["entries"] if e["kind"] == "track"]
    assert [e["details"]["event"] for e in tracks] == ["subscribed", "checkpoint"]
    assert "13800138000" not in json.dumps(view, ensure_ascii=False)
    assert view["tracks"][0]["quiet_hours"] == 48.0
    assert any(
        e["kind"] == "anomaly" and e["details"]["rule"] == "logistics_stalled"
        for e in view["entries"]
    )


def test_a_delivered_parcel_and_a_moving_one_never_stall(client, deps):
    setup_tracking(deps)
    book_paid(client, deps)
    ship(client, deps, {"carrier": "yuantong", "number": "YT100"})
    start = deps.now()
    points = []
    for day in range(4):  # a checkpoint every day for four days: never 48 h quiet
        deps.now.advance(hours=24)
        points.append((deps.now(), f"day {day}"))
        assert push(client, points).status_code == 200
        process_queued(client, deps)
        assert STALLED not in job("scan_anomalies")["opened"]
    points.append((deps.now(), "签收"))
    push(client, points, state="3")
    process_queued(client, deps)
    assert deps.tracks.get(track_key("yuantong", "YT100")).state == DELIVERED
    deps.now.advance(days=10)
    assert STALLED not in job("scan_anomalies")["opened"]
    assert deps.now() - start > timedelta(days=10)


def test_repeated_and_older_pushes_change_nothing(client, deps):
    setup_tracking(deps)
    book_paid(client, deps)
    ship(client, deps, {"carrier": "yuantong", "number": "YT100"})
    one = (deps.now() + timedelta(hours=1), "a")
    two = (deps.now() + timedelta(hours=5), "b")
    push(client, [one, two])
    push(client, [one, two])  # redelivered
    push(client, [one])  # an older push arriving late
    process_queued(client, deps)
    track = deps.tracks.get(track_key("yuantong", "YT100"))
    assert [c.text for c in track.checkpoints] == ["a", "b"]
    outcomes = [
        a["outcome"]
        for key, t in deps.trail.items.items()
        if key.startswith("track#")
        for a in t.get("attempts", [])
    ]
    assert sorted(outcomes).count("booked") == 1


def test_a_forged_push_is_refused_and_queues_nothing(client, deps):
    setup_tracking(deps)
    response = push(client, [(deps.now(), "x")], sign="0" * 32)
    assert response.status_code == 401
    assert response.json_body["error"] == "invalid_signature"
    assert deps.queue.messages == []
    assert client.http.post("/tracking/dhl/callback", body=b"{}").status_code == 404


def test_a_failed_subscription_is_retried_by_the_poll_job(client, deps):
    setup_tracking(deps)
    book_paid(client, deps)
    provider = deps.tracking_providers["kuaidi100"]
    provider.down = True
    shipped = ship(client, deps, {"carrier": "yuantong", "number": "YT100"})
    assert shipped.status_code == 200
    assert shipped.json_body["tracking"]["subscribed"] is False
    provider.down = False
    report = job("poll_tracks")
    assert report["subscribed"] == ["yuantong#YT100"]
    assert provider.subscribed == [("yuantong", "YT100")]


def test_the_poll_job_fetches_a_quiet_track_through_the_queue(client, deps):
    from chalicelib.domain.tracking import IN_TRANSIT, Checkpoint, TrackUpdate

    setup_tracking(deps)
    book_paid(client, deps)
    ship(client, deps, {"carrier": "yuantong", "number": "YT100"})
    deps.now.advance(hours=25)
    checkpoint = Checkpoint(deps.now() - timedelta(hours=1), "到达【广州】")
    deps.tracking_providers["kuaidi100"].answers[("yuantong", "YT100")] = TrackUpdate(
        "kuaidi100", "yuantong", "YT100", IN_TRANSIT, (checkpoint,), deps.now(), via="poll"
    )
    report = job("poll_tracks")
    assert report["updated"] == ["yuantong#YT100"]
    process_queued(client, deps)
    assert deps.tracks.get("yuantong#YT100").last_event_at == checkpoint.at


def test_paid_not_picked_means_no_pick_list_printed(client, deps):
    book_paid(client, deps, "o-1")
    book_paid(client, deps, "o-2")
    picks = {
        "pick_list_id": "pl-1",
        "warehouse": "w1",
        "orders": [{"platform": "mall", "store": "demo-shop", "order_id": "o-1"}],
    }
    wh = headers(role_key(deps, "warehouse"))
    first = client.http.post("/wms/pick-lists", headers=wh, body=json.dumps(picks))
    assert first.status_code == 200, first.body
    assert first.json_body["recorded"] == ["mall#demo-shop#o-1"]
    again = client.http.post("/wms/pick-lists", headers=wh, body=json.dumps(picks))
    assert again.json_body["status"] == "duplicate"
    audited = [e for e in deps.audit_log.entries.values() if e.action == "wms.pick_list"]
    assert len(audited) == 1

    deps.now.advance(hours=5, minutes=59)
    assert job("scan_anomalies")["opened"] == []
    deps.now.advance(minutes=2)
    opened = job("scan_anomalies")["opened"]
    assert "paid_not_picked#mall#demo-shop#o-2" in opened
    assert NOT_PICKED not in opened

    entries = timeline(client, deps)["entries"]
    assert [e["summary"] for e in entries if e["kind"] == "pick_list"] == [
        "pick list pl-1 printed at w1"
    ]


def test_pick_lists_naming_unknown_orders_record_nothing(client, deps):
    book_paid(client, deps, "o-1")
    picks = {
        "pick_list_id": "pl-9",
        "orders": [
            {"platform": "mall", "store": "demo-shop", "order_id": "o-1"},
            {"platform": "mall", "store": "demo-shop", "order_id": "nope"},
        ],
    }
    wh = headers(role_key(deps, "warehouse"))
    response = client.http.post("/wms/pick-lists", headers=wh, body=json.dumps(picks))
    assert response.status_code == 404
    assert "nope" in response.json_body["message"]
    assert deps.order_activity.picked(["mall#demo-shop#o-1"]) == set()
    bad = client.http.post("/wms/pick-lists", headers=wh, body=json.dumps({"orders": []}))
    assert bad.status_code == 400 and "pick_list_id" in bad.json_body["message"]
    cs = client.http.post("/wms/pick-lists", headers=headers(role_key(deps, "cs")), body="{}")
    assert cs.status_code == 403


def test_notes_keep_author_and_time_and_lose_personal_data(client, deps):
    book_paid(client, deps)
    cs = headers(role_key(deps, "cs"))
    text = "buyer 13812345678 (li@example.cn, ID 11010519491231002X) asks where the parcel is"
    added = client.http.post(
        f"{ORDER}/notes", headers=cs, body=json.dumps({"text": text, "note_id": "n-1"})
    )
    assert added.status_code == 201, added.body
    note = added.json_body["note"]
    assert (note["author"], note["role"]) == ("cs", "cs")
    assert note["text"] == "buyer [phone] ([email], ID [id number]) asks where the parcel is"
    again = client.http.post(
        f"{ORDER}/notes", headers=cs, body=json.dumps({"text": text, "note_id": "n-1"})
    )
    assert (again.status_code, again.json_body["status"]) == (200, "duplicate")
    [shown] = [e for e in timeline(client, deps)["entries"] if e["kind"] == "note"]
    assert shown["summary"].startswith("note by cs (cs): buyer [phone]")
    assert [e.action for e in deps.audit_log.entries.values()].count("order.note") == 1


def test_notes_need_an_order_text_and_a_role_that_writes_notes(client, deps):
    book_paid(client, deps)
    ops = headers(role_key(deps, "ops"))
    assert client.http.post(f"{ORDER}/notes", headers=ops, body='{"text": "ok"}').status_code == 201
    missing = client.http.post(
        "/orders/mall/demo-shop/none/notes", headers=ops, body='{"text": "x"}'
    )
    assert missing.status_code == 404
    empty = client.http.post(f"{ORDER}/notes", headers=ops, body='{"text": " "}')
    assert empty.status_code == 400 and "text" in empty.json_body["message"]
    long = client.http.post(f"{ORDER}/notes", headers=ops, body=json.dumps({"text": "x" * 2001}))
    assert long.status_code == 400
    wh = headers(role_key(deps, "warehouse"))
    assert client.http.post(f"{ORDER}/notes", headers=wh, body='{"text": "x"}').status_code == 403


def test_review_notes_are_shown_in_the_next_months_report(client, deps):
    from chalicelib.domain.monthly_review import run_monthly_review
    from chalicelib.domain.order_notes import previous_month_label, review_note_lines
    from tests.report_fakes import FakeReportStore

    ops = headers(role_key(deps, "ops"))
    note = {
        "rule": "logistics_stalled",
        "root_cause": "YTO hub backlog; courier 13800138000 unreachable",
        "action": "switch Guangzhou orders to SF",
    }
    saved = client.http.post(
        "/reports/monthly-review/2026-11/notes", headers=ops, body=json.dumps(note)
    )
    assert saved.status_code == 201, saved.body
    assert "[phone]" in saved.json_body["root_cause"]
    listed = client.http.get("/reports/monthly-review/2026-11/notes", headers=ops)
    assert [n["rule"] for n in listed.json_body["notes"]] == ["logistics_stalled"]
    bad = client.http.post(
        "/reports/monthly-review/2026-13/notes", headers=ops, body=json.dumps(note)
    )
    assert bad.status_code == 400 and "month" in bad.json_body["message"]
    unknown = client.http.post(
        "/reports/monthly-review/2026-11/notes",
        headers=ops,
        body=json.dumps({**note, "rule": "no_such_rule"}),
    )
    assert unknown.status_code == 400 and "rule" in unknown.json_body["message"]

    december = date(2026, 12, 1)
    lines = review_note_lines(deps.order_activity.review_notes(previous_month_label(december)))
    reports = FakeReportStore()
    run = run_monthly_review(december, deps.anomalies, reports, deps.notifier, deps.now, lines)
    assert run.published is not None
    summary = reports.published[-1].summary
    assert summary is not None
    assert summary.lines[-2:] == (
        "Root causes and actions recorded for 2026-11:",
        "- logistics_stalled: cause: YTO hub backlog; courier [phone] unreachable; "
        "action: switch Guangzhou orders to SF (ops)",
    )


def test_an_unreadable_track_message_is_rejected_under_its_own_key(client, deps):
    from chalicelib.domain.dlq import describe

    message = {"track": {"provider": "kuaidi100"}, "event_key": "track#kuaidi100#x#1"}
    deps.queue.messages.append((message, "x"))
    process_queued(client, deps)
    attempts = deps.trail.items["track#kuaidi100#x#1"]["attempts"]
    assert [a["outcome"] for a in attempts] == ["rejected_invalid"]
    assert "track#kuaidi100#x#1" in deps.orders.events
    parked = describe({"MessageId": "m", "Body": json.dumps(message)})
    assert (parked.platform, parked.store, parked.event_key) == (
        "tracking",
        "kuaidi100",
        "track#kuaidi100#x#1",
    )
