"""One order-history contract (the timeline's reads), two implementations: the in-memory fake
and the adapter over DynamoDB (the events GSI `by_order`, batch gets), SQS (the DLQ) and S3,
under moto. The sparse index must list an order's records only, and must not stop records
without an order (an unreadable message's rejection) from being written."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.model import (
    Anomaly,
    BookingPlan,
    EventRecord,
    Outcome,
    Priority,
    StockChange,
    StockLevel,
)
from tests.fakes import FakeOrderRepository, FakeRawArchive, FakeTrail
from tests.timeline_fakes import FakeOrderHistory
from tests.unit.test_http_api import FakeDeadLetters

AT = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
A = "mall#demo-shop#o-1"
B = "mall#demo-shop#o-2"


@dataclass
class Side:
    repo: Any
    trail: Any
    history: Any
    raw: Any
    park: Any  # (order key, event key) -> None: put a message into the DLQ


def fake_side() -> Side:
    repo, trail, dlq, raw = FakeOrderRepository(), FakeTrail(), FakeDeadLetters(), FakeRawArchive()

    def park(order_key: str, event_key: str) -> None:
        dlq.messages.append(dlq_message(order_key, event_key, f"m-{len(dlq.messages)}"))

    return Side(repo, trail, FakeOrderHistory(repo, trail, dlq, raw), raw, park)


def dlq_message(order_key: str, event_key: str, message_id: str) -> dict[str, Any]:
    platform, store, order_id = order_key.split("#", 2)
    return {
        "MessageId": message_id,
        "Body": json.dumps(
            {
                "event": {
                    "event_key": event_key,
                    "platform": platform,
                    "store": store,
                    "order_id": order_id,
                }
            }
        ),
        "Attributes": {"SentTimestamp": str(int(AT.timestamp() * 1000))},
        "MessageAttributes": {"correlation_id": {"StringValue": order_key}},
    }


@pytest.fixture(params=["fake", "aws"])
def side(request) -> Side:
    if request.param == "fake":
        return fake_side()
    container = request.getfixturevalue("container")
    sqs = container.sqs
    dlq_url = container.settings.order_dlq_url

    def park(order_key: str, event_key: str) -> None:
        message = dlq_message(order_key, event_key, "")
        sqs.send_message(
            QueueUrl=dlq_url,
            MessageBody=message["Body"],
            MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": order_key}},
        )

    return Side(
        container.orders, container.trail, container.order_history, container.raw_archive, park
    )


def record(
    key: str, order: str, seconds: int, cause: str = "order event", outcome=Outcome.BOOKED
) -> EventRecord:
    return EventRecord(key, order, outcome, "", AT + timedelta(seconds=seconds), cause=cause)


def commit(repo, rec: EventRecord, changes: tuple[StockChange, ...] = ()) -> None:
    repo.commit(BookingPlan(rec, None, 0, changes))


def test_an_orders_records_come_oldest_first_and_only_its_own(side):
    side.repo.put_stock(StockLevel.new("SKU-A", "w1", 10))
    # recorded out of order, on purpose
    commit(side.repo, record("wms#c-1", A, 600, cause="wms shipment"))
    commit(side.repo, record("mall#demo-shop#d1", A, 10), (StockChange("SKU-A", "w1", locked=2),))
    commit(side.repo, record("mall#demo-shop#d9", B, 20))
    commit(side.repo, record("adjustment#a1", "stock#SKU-A#w1", 30, cause="adjustment: receipt"))
    # an unreadable message's rejection has no order: the sparse index must still take it
    commit(side.repo, record("invalid#m7", "", 40, outcome=Outcome.REJECTED_INVALID))

    found = side.history.event_records(A, 10)

    assert [r["event_key"] for r in found] == ["mall#demo-shop#d1", "wms#c-1"]
    assert found[0]["movements"][0]["locked"] == 2 and found[0]["order_key"] == A
    assert found[1]["cause"] == "wms shipment"
    assert side.repo.get_event_outcome("invalid#m7")["outcome"] == "rejected_invalid"
    assert side.history.event_records("mall#demo-shop#nobody", 10) == []
    assert len(side.history.event_records(A, 1)) == 1


def test_trails_and_anomalies_by_key(side):
    side.trail.record_receipt("mall#demo-shop#d1", "mall", "demo-shop", AT, 40, "m1")
    side.trail.record_attempt("mall#demo-shop#d1", AT, 1, outcome="booked", final=True)
    side.repo.open_anomaly(Anomaly("out_of_stock", A, Priority.P0, "SKU-A short"), AT)

    trails = side.history.trails(["mall#demo-shop#d1", "mall#demo-shop#none"])
    anomalies = side.history.anomalies([f"out_of_stock#{A}", f"unknown_sku#{A}"])

    assert list(trails) == ["mall#demo-shop#d1"]
    assert trails["mall#demo-shop#d1"]["ack_ms"] == 40
    assert trails["mall#demo-shop#d1"]["attempts"][0]["outcome"] == "booked"
    (anomaly,) = anomalies
    assert (anomaly["rule"], anomaly["subject"], anomaly["priority"]) == ("out_of_stock", A, "P0")
    assert anomaly["opened_at"].startswith("2026-11-25T08:00:00")


def test_the_dlq_is_searched_for_the_orders_messages_only(side):
    assert side.history.parked(A, 100).parked == ()
    side.park(A, "mall#demo-shop#d1")
    side.park(B, "mall#demo-shop#d9")

    search = side.history.parked(A, 100)

    assert [p.event_key for p in search.parked] == ["mall#demo-shop#d1"]
    assert (search.depth, search.searched) == (2, 2)
    # browsing leaves them where they were, for the next look
    assert side.history.parked(B, 100).parked[0].event_key == "mall#demo-shop#d9"


def test_raw_payloads_by_key(side):
    side.raw.keep("raw/mall/demo-shop/2026/11/25/abc.json", {"raw": '{"order_id": "o-1"}'})
    assert side.history.raw_payload("raw/mall/demo-shop/2026/11/25/abc.json") == {
        "raw": '{"order_id": "o-1"}'
    }
    assert side.history.raw_payload("raw/mall/demo-shop/2026/11/25/none.json") is None
