"""Per-event trails over fakes: the receipt carried by the queued message and recorded by the
processor with the booking (or a failed attempt), the pending-events job, and the conservation
endpoint (the real handlers, as in test_http_api)."""

from __future__ import annotations

import json

from app import app
from chalicelib.domain.model import EventRecord, Outcome
from local.lambda_runtime import LocalLambdaContext, scheduled_event
from tests.builders import body, mall_payload
from tests.unit.test_http_api import KEY, FakeContainer, post_webhook, signed_headers

EVENT_KEY = "mall#demo-shop#msg_1"
AUTH = {"Authorization": f"Bearer {KEY}"}


def accept_one(client, deps: FakeContainer) -> dict:
    raw = body(mall_payload())
    assert post_webhook(client, raw, signed_headers(raw, deps)).status_code == 202
    ((message, _),) = deps.queue.messages
    return message


def process(client, message: dict, receive_count: int = 1, sent_ms: int | None = None):
    event = client.events.generate_sqs_event(message_bodies=[json.dumps(message)])
    event["Records"][0]["messageId"] = "m0"
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    if sent_ms is not None:
        event["Records"][0]["attributes"]["SentTimestamp"] = str(sent_ms)
    return client.lambda_.invoke("handle_order_events", event).payload


def run_job(name: str) -> dict:
    return app.handler_map[name](scheduled_event(name, "us-east-1"), LocalLambdaContext(name))


def test_the_receipt_rides_on_the_message_and_is_recorded_with_the_booking(client, deps):
    message = accept_one(client, deps)
    assert deps.trail.items == {}  # the intake wrote nothing but the message
    sent_ms = round(deps.now().timestamp() * 1000) + 38  # SQS took the message 38 ms later
    assert process(client, message, sent_ms=sent_ms) == {"batchItemFailures": []}
    trail = deps.trail.get(EVENT_KEY)
    assert trail["message_id"] == "m0" and trail["received_at"] == deps.now().isoformat()
    assert trail["ack_ms"] == 38 and trail["final_outcome"] == "booked" and not trail["pending"]
    assert deps.trail.receipts("mall", "demo-shop", "2026-11-25")[0]["event_key"] == EVENT_KEY


def test_the_intake_does_not_touch_the_trail(client, deps):
    deps.trail.failing = RuntimeError("trail table throttled")
    accept_one(client, deps)
    assert deps.trail.items == {}


def test_booking_closes_the_trail_with_its_attempt(client, deps):
    message = accept_one(client, deps)
    assert process(client, message) == {"batchItemFailures": []}
    trail = deps.trail.get(EVENT_KEY)
    assert trail["final_outcome"] == "booked" and not trail["pending"]
    assert trail["attempts"] == [{"at": deps.now().isoformat(), "attempt": 1, "outcome": "booked"}]


def test_a_redelivery_does_not_overwrite_the_outcome_that_booked_it(client, deps):
    message = accept_one(client, deps)
    process(client, message)
    process(client, message, receive_count=2)  # the same message again: a duplicate
    trail = deps.trail.get("mall#demo-shop#msg_1")
    assert trail["final_outcome"] == "booked"
    assert [a.get("outcome") for a in trail["attempts"]] == ["booked", "duplicate"]


def test_a_failed_attempt_is_appended_with_its_error_class_and_stays_pending(client, deps):
    message = accept_one(client, deps)

    def throttled(key):
        raise TimeoutError("DynamoDB timed out")

    real = deps.orders.get_order
    deps.orders.get_order = throttled
    assert process(client, message, 1) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    trail = deps.trail.get(EVENT_KEY)
    assert trail["pending"] and trail["attempts"][0]["error_class"] == "TimeoutError"
    deps.orders.get_order = real
    process(client, message, 2)
    trail = deps.trail.get(EVENT_KEY)
    assert [a["attempt"] for a in trail["attempts"]] == [1, 2]
    assert trail["final_outcome"] == "booked" and not trail["pending"]


def test_the_trail_is_written_with_the_booking_or_not_at_all(client, deps):
    message = accept_one(client, deps)
    deps.trail.failing = RuntimeError("trail table throttled")  # fails the transaction
    assert process(client, message) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert deps.orders.get_event_outcome(EVENT_KEY) is None  # nothing booked: retried
    deps.trail.failing = None
    assert process(client, message, receive_count=2) == {"batchItemFailures": []}
    assert deps.orders.get_event_outcome(EVENT_KEY)["outcome"] == "booked"
    assert deps.trail.get(EVENT_KEY)["final_outcome"] == "booked"


def test_pending_job_repairs_committed_events_and_alerts_on_the_rest(client, deps):
    at = deps.now()
    deps.trail.record_receipt("mall#demo-shop#lost", "mall", "demo-shop", at, 3, "m1")
    deps.trail.record_receipt("mall#demo-shop#crashed", "mall", "demo-shop", at, 3, "m2")
    deps.orders.events["mall#demo-shop#crashed"] = (
        EventRecord("mall#demo-shop#crashed", "o", Outcome.BOOKED, "", at),
        (),
    )
    deps.now.advance(seconds=299)
    deps.trail.record_receipt("mall#demo-shop#young", "mall", "demo-shop", deps.now(), 3, "m3")
    assert run_job("check_pending_events") == {"overdue": 0, "repaired": [], "alerted": []}
    deps.now.advance(seconds=2)
    result = run_job("check_pending_events")
    assert result == {
        "overdue": 2,
        "repaired": ["mall#demo-shop#crashed"],
        "alerted": ["mall#demo-shop#lost"],
    }
    assert deps.trail.get("mall#demo-shop#crashed")["final_outcome"] == "booked"
    anomaly = deps.orders.get_anomaly("event_pending", "mall#demo-shop#lost")
    assert anomaly["priority"] == "P0" and anomaly["status"] == "open"
    assert deps.orders.get_anomaly("event_pending", "mall#demo-shop#young") is None
    run_job("check_pending_events")  # still pending: the same anomaly counts again
    assert deps.orders.get_anomaly("event_pending", "mall#demo-shop#lost")["occurrences"] == 2


def test_conservation_endpoint_balances_and_flags(client, deps):
    message = accept_one(client, deps)
    url = "/ops/conservation?date=2026-11-25"
    (store,) = client.http.get(url, headers=AUTH).json_body["stores"]
    # queued, not yet attempted: its receipt is still on the message, counted by the queue
    assert (store["accepted"], store["in_flight"], store["queue_messages"]) == (0, 0, 1)
    assert store["difference"] is False
    process(client, message)
    deps.queue.messages.clear()
    body_ = client.http.get(url, headers=AUTH).json_body
    (store,) = body_["stores"]
    assert (store["accepted"], store["booked"], store["settled"]) == (1, 1, 1)
    assert body_["difference"] is False
    deps.trail.record_receipt("mall#demo-shop#gone", "mall", "demo-shop", deps.now(), 1, "x")
    assert client.http.get(url, headers=AUTH).json_body["stores"][0]["lost"] == 1
    deps.dead_letters.messages.append(
        {"MessageId": "d1", "Body": json.dumps({"event": {"event_key": "mall#demo-shop#gone"}})}
    )
    (store,) = client.http.get(url, headers=AUTH).json_body["stores"]
    assert store["in_dlq"] == 1 and store["difference"] is False


def test_conservation_needs_a_key_and_a_good_date(client, deps):
    assert client.http.get("/ops/conservation?date=2026-11-25").status_code == 401
    for query in ("?date=2026-02-30", "?date=yesterday", ""):
        response = client.http.get(f"/ops/conservation{query}", headers=AUTH)
        assert response.status_code == 400 and response.json_body["error"] == "invalid_payload"
