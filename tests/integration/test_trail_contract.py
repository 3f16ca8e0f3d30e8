"""One trail contract, two implementations: the in-memory fake and the DynamoDB adapter (its
sparse `pending` index and its `store_day` index) must agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.fakes import FakeTrail

AT = datetime(2026, 11, 25, 23, 59, 30, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamodb"])
def trail(request):
    if request.param == "fake":
        return FakeTrail()
    return request.getfixturevalue("container").trail


def test_unknown_event_has_no_trail(trail):
    assert trail.get("mall#s1#nope") is None


def test_receipt_reads_back_pending(trail):
    trail.record_receipt("mall#s1#d1", "mall", "s1", AT, 12, "m1")
    assert trail.get("mall#s1#d1") == {
        "event_key": "mall#s1#d1",
        "platform": "mall",
        "store": "s1",
        "received_at": AT.isoformat(),
        "ack_ms": 12,
        "message_id": "m1",
        "raw_key": None,
        "attempts": [],
        "final_outcome": None,
        "pending": True,
    }


def test_attempts_append_and_the_final_one_clears_pending(trail):
    trail.record_receipt("mall#s1#d1", "mall", "s1", AT, 12, "m1")
    trail.record_attempt("mall#s1#d1", AT + timedelta(seconds=1), 1, error_class="Throttled")
    trail.record_attempt("mall#s1#d1", AT + timedelta(seconds=11), 2, outcome="booked", final=True)
    item = trail.get("mall#s1#d1")
    assert item["attempts"] == [
        {"at": (AT + timedelta(seconds=1)).isoformat(), "attempt": 1, "error_class": "Throttled"},
        {"at": (AT + timedelta(seconds=11)).isoformat(), "attempt": 2, "outcome": "booked"},
    ]
    assert item["final_outcome"] == "booked" and item["pending"] is False
    assert trail.pending_before(AT + timedelta(days=1)) == []


def test_an_attempt_before_its_receipt_still_ends_final(trail):
    trail.record_attempt("mall#s1#d1", AT, 1, outcome="booked", final=True)
    trail.record_receipt("mall#s1#d1", "mall", "s1", AT, 12, "m1")
    item = trail.get("mall#s1#d1")
    assert item["final_outcome"] == "booked" and item["pending"] is False
    assert item["message_id"] == "m1"
    assert [r["event_key"] for r in trail.receipts("mall", "s1", "2026-11-25")] == ["mall#s1#d1"]


def test_a_redelivery_keeps_the_first_receipt_time(trail):
    trail.record_receipt("mall#s1#d1", "mall", "s1", AT, 12, "m1")
    trail.record_receipt("mall#s1#d1", "mall", "s1", AT + timedelta(minutes=1), 9, "m2")
    item = trail.get("mall#s1#d1")
    assert item["received_at"] == AT.isoformat() and item["message_id"] == "m2"
    assert len(trail.receipts("mall", "s1", "2026-11-25")) == 1


def test_pending_before_is_oldest_first_and_excludes_younger(trail):
    trail.record_receipt("mall#s1#late", "mall", "s1", AT + timedelta(minutes=5), 1, "m1")
    trail.record_receipt("mall#s1#early", "mall", "s1", AT, 1, "m2")
    trail.record_receipt("mall#s1#mid", "mall", "s1", AT + timedelta(minutes=1), 1, "m3")
    found = trail.pending_before(AT + timedelta(minutes=2))
    assert [i["event_key"] for i in found] == ["mall#s1#early", "mall#s1#mid"]
    trail.finalize("mall#s1#early", "stale")
    assert trail.get("mall#s1#early")["final_outcome"] == "stale"
    found = trail.pending_before(AT + timedelta(minutes=2))
    assert [i["event_key"] for i in found] == ["mall#s1#mid"]


def test_receipts_are_per_store_and_utc_day(trail):
    trail.record_receipt("mall#s1#a", "mall", "s1", AT, 1, "m1")
    trail.record_receipt("mall#s1#b", "mall", "s1", AT + timedelta(minutes=1), 1, "m2")  # next day
    trail.record_receipt("mall#s2#c", "mall", "s2", AT, 1, "m3")
    trail.record_receipt("shop#s1#d", "shop", "s1", AT, 1, "m4")
    assert [r["event_key"] for r in trail.receipts("mall", "s1", "2026-11-25")] == ["mall#s1#a"]
    assert [r["event_key"] for r in trail.receipts("mall", "s1", "2026-11-26")] == ["mall#s1#b"]
    assert trail.receipts("mall", "s3", "2026-11-25") == []


def test_an_attempt_carrying_its_receipt_records_both_in_one_write(trail):
    from chalicelib.domain.model import Receipt

    first = Receipt("mall#s1#d1", "mall", "s1", AT, 40, "m1")
    trail.record_attempt("mall#s1#d1", AT, 1, error_class="Throttled", receipt=first)
    item = trail.get("mall#s1#d1")
    assert item["pending"] is True and item["final_outcome"] is None
    assert (item["received_at"], item["ack_ms"], item["message_id"]) == (AT.isoformat(), 40, "m1")
    assert [r["event_key"] for r in trail.receipts("mall", "s1", "2026-11-25")] == ["mall#s1#d1"]
    # a replay (a new message, sent later) keeps the first receipt's time and ack
    later = Receipt("mall#s1#d1", "mall", "s1", AT + timedelta(hours=1), 9000, "m2")
    trail.record_attempt("mall#s1#d1", AT, 2, "booked", final=True, receipt=later)
    item = trail.get("mall#s1#d1")
    assert (item["received_at"], item["ack_ms"]) == (AT.isoformat(), 40)
    assert item["final_outcome"] == "booked" and item["pending"] is False
    # a duplicate delivery after it was final leaves it final, not pending
    trail.record_attempt("mall#s1#d1", AT, 3, "duplicate", receipt=later)
    item = trail.get("mall#s1#d1")
    assert item["final_outcome"] == "booked" and item["pending"] is False
    assert trail.pending_before(AT + timedelta(days=1)) == []
