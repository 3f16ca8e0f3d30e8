"""The one-click order view: assembly order (pure), and the route over the fake stack —
masking as GET /orders, the permission matrix (cs yes, warehouse no), raw payloads only with
`decrypt` and a reason (audited), DLQ stays, 404 for an order nothing is known of."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.api_keys import issue_key
from chalicelib.domain.dlq import ParkedMessage
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import Booking, Hold, Order, PlatformStatus
from chalicelib.domain.timeline import (
    Facts,
    assemble,
    order_anomaly_keys,
    parse_include,
)
from tests.builders import body, mall_payload
from tests.unit.test_http_api import post_webhook, signed_headers

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ORDER_KEY = "mall#demo-shop#o-1"
TIMELINE = "/orders/mall/demo-shop/o-1/timeline"


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def kinds(entries) -> list[str]:
    return [e.kind for e in entries]


# ---- assembly (pure) ---------------------------------------------------------------------


def test_entries_follow_time_and_a_record_follows_the_attempt_that_committed_it():
    # Given an event that failed once, then was booked (the attempt is stamped when it ends,
    # after the record's processed_at), a later WMS shipment and an anomaly in between
    trail = {
        "event_key": "mall#demo-shop#d1",
        "platform": "mall",
        "store": "demo-shop",
        "received_at": at(0),
        "ack_ms": 41,
        "message_id": "m-1",
        "attempts": [
            {"at": at(1), "attempt": 1, "error_class": "TransientFailure"},
            {"at": at(12.004), "attempt": 2, "outcome": "booked"},
        ],
        "final_outcome": "booked",
    }
    booked = {
        "event_key": "mall#demo-shop#d1",
        "order_key": ORDER_KEY,
        "outcome": "booked",
        "reason": "",
        "cause": "order event",
        "processed_at": at(12),
        "movements": [
            {"sku": "SKU-A", "warehouse": "w1", "reserved": 0, "locked": 2, "available": -2}
        ],
    }
    shipped = {
        "event_key": "wms#c-9",
        "order_key": ORDER_KEY,
        "outcome": "booked",
        "reason": "",
        "cause": "wms shipment",
        "processed_at": at(600),
        "movements": [{"sku": "SKU-A", "warehouse": "w1", "locked": -2, "on_hand": -2}],
    }
    anomaly = {
        "rule": "paid_not_picked",
        "subject": ORDER_KEY,
        "priority": "P0",
        "status": "acknowledged",
        "detail": "paid, nothing shipped",
        "occurrences": 1,
        "opened_at": at(300),
        "announced_at": at(301),
        "acknowledged_at": at(400),
        "acknowledged_by": "wh@example.com",
    }
    order = Order(
        "mall",
        "demo-shop",
        "o-1",
        PlatformStatus.PAID,
        Booking.SHIPPED,
        T0,
        at(0),
        "CNY",
        (),
        None,
        holds=(Hold("SKU-A", "w1", shipped=2),),
        last_event_key="wms#c-9",
    )
    # records are handed over newest first on purpose: assembly owns the order
    facts = Facts(
        ORDER_KEY,
        order,
        [shipped, booked],
        {trail["event_key"]: trail},
        anomalies=[anomaly],
    )

    # When assembled
    entries = assemble(facts)

    # Then: time order, the booking right after the attempt that committed it
    assert kinds(entries) == [
        "receipt",
        "attempt",
        "attempt",
        "booking",
        "anomaly",
        "notification",
        "anomaly",
        "shipment",
        "allocation",
    ]
    assert entries[3].at == T0 + timedelta(seconds=12)  # its own time is kept
    assert "failed (TransientFailure)" in entries[1].summary
    assert "locked +2" in entries[3].summary and "SKU-A@w1" in entries[3].summary
    assert entries[7].details["confirmation_id"] == "c-9"
    assert "now shipped" in entries[8].summary and "2 shipped" in entries[8].summary
    assert "acknowledged by wh@example.com" in entries[6].summary
    sort_times = [e.sort_at or e.at for e in entries]
    assert sort_times == sorted(sort_times)


def test_a_parked_event_is_listed_after_its_last_attempt():
    trail = {
        "event_key": "mall#demo-shop#d2",
        "platform": "mall",
        "store": "demo-shop",
        "received_at": at(0),
        "attempts": [
            {"at": at(10 * n), "attempt": n, "error_class": "OrderDetailsUnavailable"}
            for n in range(1, 6)
        ],
    }
    parked = ParkedMessage("m-2", T0, 6, "mall", "demo-shop", "o-1", "mall#demo-shop#d2")
    entries = assemble(Facts(ORDER_KEY, None, [], {trail["event_key"]: trail}, [parked]))
    assert kinds(entries) == ["receipt"] + ["attempt"] * 5 + ["dead_letter"]
    assert entries[-1].at == T0 + timedelta(seconds=50)
    assert entries[-1].details["first_queued_at"] == T0.isoformat()
    assert "after 6 receives" in entries[-1].summary


def test_every_rule_about_orders_and_every_event_is_looked_up():
    keys = order_anomaly_keys(ORDER_KEY, ["mall#demo-shop#d1"])
    assert f"out_of_stock#{ORDER_KEY}" in keys and f"paid_not_picked#{ORDER_KEY}" in keys
    assert "event_pending#mall#demo-shop#d1" in keys
    assert not any(k.startswith(("inventory_drift#", "clock_skew#")) for k in keys)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (None, (False, "")),
        (
            {"include": "raw", "reason": "buyer asks where the parcel is"},
            (True, "buyer asks where the parcel is"),
        ),
    ],
)
def test_include_is_parsed(query, expected):
    assert parse_include(query) == expected


@pytest.mark.parametrize(
    "query",
    [{"include": "raw"}, {"include": "everything"}, {"include": "raw", "reason": "x" * 501}],
)
def test_bad_include_is_refused(query):
    with pytest.raises(InvalidPayload):
        parse_include(query)


# ---- the route over the fake stack -------------------------------------------------------


def role_key(deps, role: str) -> str:
    secret = f"key-of-{role}"
    deps.api_keys.save_key(issue_key(role, role, deps.now(), secret=secret, key_id=f"k-{role}").key)
    return secret


def get(client, path: str, key: str):
    return client.http.get(path, headers={"Authorization": f"Bearer {key}"})


def process_queued(client, deps) -> None:
    """Run the queued messages through the real SQS handler, then forget them."""
    event = client.events.generate_sqs_event(
        message_bodies=[json.dumps(m) for m, _ in deps.queue.messages],
        queue_name="orderhub-order-events",
    )
    for i, record in enumerate(event["Records"]):
        record["messageId"] = f"m-{len(deps.orders.events)}-{i}"
    client.lambda_.invoke("handle_order_events", event)
    deps.queue.messages.clear()


def book_and_ship(client, deps) -> None:
    raw = body(mall_payload(status="paid"))
    assert post_webhook(client, raw, signed_headers(raw, deps, "d-paid")).status_code == 202
    deps.now.advance(seconds=2)
    process_queued(client, deps)
    deps.now.advance(minutes=30)
    confirmation = {
        "confirmation_id": "c-1",
        "platform": "mall",
        "store": "demo-shop",
        "order_id": "o-1",
        "lines": [{"sku": "SKU-A", "quantity": 2}],
    }
    shipped = client.http.post(
        "/wms/outbound-confirmations",
        headers={"Authorization": "Bearer test-admin-key", "Content-Type": "application/json"},
        body=json.dumps(confirmation),
    )
    assert shipped.status_code == 200, shipped.body


def test_customer_service_sees_the_whole_story_masked(client, deps):
    book_and_ship(client, deps)
    response = get(client, TIMELINE, role_key(deps, "cs"))
    assert response.status_code == 200, response.body
    view = response.json_body
    assert [e["kind"] for e in view["entries"]] == [
        "receipt",
        "attempt",
        "booking",
        "shipment",
        "allocation",
    ]
    receipt = view["entries"][0]
    assert receipt["details"]["authenticity"] == "signature verified"
    assert receipt["details"]["raw"]["key"].startswith("raw/batch/2026/11/25/")  # its batch
    assert "payload" not in receipt["details"]["raw"]
    # the order exactly as GET /orders shows it: masked
    order = get(client, "/orders/mall/demo-shop/o-1", "key-of-cs").json_body
    assert view["order"] == order and view["order"]["buyer"]["phone"] == "138****5678"
    # cs holds no read_payments: no amounts in the order or anywhere in its timeline
    assert "total" not in order and "unit_price" not in response.body.decode()
    assert "13812345678" not in response.body.decode()
    assert any("refused deliveries" in gap for gap in view["not_covered"])


def test_warehouse_may_not_read_the_timeline(client, deps):
    book_and_ship(client, deps)
    response = get(client, TIMELINE, role_key(deps, "warehouse"))
    assert response.status_code == 403
    assert "read_timeline" in response.json_body["message"]


def approved_request(client, key: str) -> str:
    """A reveal request for o-1 asked with `key`, approved by the fixture's admin."""
    from tests.unit.test_decrypt_endpoint import approve, ask

    asked = ask(client, key, path="/orders/mall/demo-shop/o-1/personal-data")
    assert asked.status_code == 201, asked.body
    assert approve(client, asked.json_body["request_id"]).status_code == 200
    return str(asked.json_body["request_id"])


def test_raw_payloads_need_decrypt_and_a_reason_and_are_audited(client, deps):
    book_and_ship(client, deps)
    ops = role_key(deps, "ops")
    assert get(client, TIMELINE, ops).status_code == 200
    denied = get(client, f"{TIMELINE}?include=raw&reason=check", ops)
    assert denied.status_code == 403 and "decrypt" in denied.json_body["message"]
    cs = role_key(deps, "cs")
    assert get(client, f"{TIMELINE}?include=raw", cs).status_code == 400
    # the two-person rule: without an approved request, the raw payloads stay closed
    unapproved = get(client, f"{TIMELINE}?include=raw&reason=buyer%20called", cs)
    assert unapproved.status_code == 400 and "request=" in unapproved.json_body["message"]
    request_id = approved_request(client, cs)
    before = len(deps.audit_log.all())
    shown = get(client, f"{TIMELINE}?include=raw&reason=buyer%20called&request={request_id}", cs)
    assert shown.status_code == 200, shown.body
    raw = shown.json_body["entries"][0]["details"]["raw"]
    assert raw["found"] is True and "13812345678" in raw["payload"]  # the platform's bytes
    (entry,) = deps.audit_log.all()[before:]
    assert entry.action == "order.raw_read" and entry.target == "order/mall#demo-shop#o-1"
    assert "buyer called" in json.dumps(entry.to_dict())


def test_a_parked_event_shows_for_an_order_never_booked(client, deps):
    raw = body(mall_payload(order_id="o-2"))
    assert post_webhook(client, raw, signed_headers(raw, deps, "d-2")).status_code == 202
    ((message, correlation),) = deps.queue.messages

    def throttled(key):
        raise TimeoutError("DynamoDB timed out")

    # its attempts failed (each recorded the receipt the message carries), then it was parked
    real, deps.orders.get_order = deps.orders.get_order, throttled
    attempt = client.events.generate_sqs_event(message_bodies=[json.dumps(message)])
    client.lambda_.invoke("handle_order_events", attempt)
    deps.orders.get_order = real
    deps.dead_letters.messages.append(
        {
            "MessageId": "dlq-1",
            "Body": json.dumps(message),
            "Attributes": {
                "SentTimestamp": str(int(T0.timestamp() * 1000)),
                "ApproximateReceiveCount": "6",
            },
            "MessageAttributes": {"correlation_id": {"StringValue": correlation}},
        }
    )
    response = get(client, "/orders/mall/demo-shop/o-2/timeline", "test-admin-key")
    assert response.status_code == 200, response.body
    assert response.json_body["order"] is None
    kinds = [e["kind"] for e in response.json_body["entries"]]
    assert kinds == ["receipt", "attempt", "dead_letter"]


def test_an_order_nothing_is_known_of_is_404(client, deps):
    response = get(client, "/orders/mall/demo-shop/nope/timeline", "test-admin-key")
    assert response.status_code == 404
    assert set(response.json_body) == {"error", "message"}
