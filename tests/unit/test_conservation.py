"""The conservation balance: every accepted event is settled, parked or queued, or it is lost."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.domain.conservation import balance, parse_day, report
from tests.fakes import FakeOrderRepository, FakeTrail, FixedClock

KEYS = [f"mall#s1#d{i}" for i in range(10)]
OUTCOMES = {
    KEYS[0]: "booked",
    KEYS[1]: "booked",
    KEYS[2]: "rejected_out_of_stock",
    KEYS[3]: "rejected_invalid",
    KEYS[4]: "needs_attention",
    KEYS[5]: "backordered",
    KEYS[6]: "duplicate",
    KEYS[7]: "staging",  # a commit in progress is not settled
}


def test_every_category_is_counted_and_the_sum_holds():
    b = balance("mall", "s1", "2026-11-25", KEYS, OUTCOMES, {KEYS[8]}, queue_messages=2)
    assert (b.accepted, b.booked, b.rejected, b.held) == (10, 2, 2, 2)
    assert (b.settled_without_change, b.in_dlq, b.in_flight) == (1, 1, 2)
    assert b.accepted == b.settled + b.in_dlq + b.in_flight
    assert not b.difference and b.lost == 0
    assert "ok" in b.line


def test_more_in_flight_than_the_queue_holds_is_flagged_as_lost():
    b = balance("mall", "s1", "2026-11-25", KEYS, OUTCOMES, {KEYS[8]}, queue_messages=1)
    assert b.difference and b.lost == 1
    assert b.to_dict()["difference"] is True and "DIFFERENCE: 1 lost" in b.line


def test_settled_beats_parked_and_redeliveries_count_once():
    keys = [KEYS[0], KEYS[0], KEYS[1]]
    b = balance("mall", "s1", "2026-11-25", keys, {KEYS[0]: "booked"}, {KEYS[0]}, 0)
    assert (b.accepted, b.booked, b.in_dlq, b.in_flight) == (2, 1, 0, 1)
    assert b.difference  # KEYS[1] is nowhere: not settled, not parked, queue empty


def test_nothing_accepted_balances():
    b = balance("mall", "s1", "2026-11-25", [], {}, set(), 0)
    assert b.to_dict()["accepted"] == 0 and not b.difference


def test_report_reads_the_trail_and_falls_back_to_event_records():
    trail, orders = FakeTrail(), FakeOrderRepository()
    at = FixedClock()()
    for i, key in enumerate(KEYS[:3]):
        trail.record_receipt(key, "mall", "s1", at, 5, f"m{i}")
    trail.record_attempt(KEYS[0], at, 1, outcome="booked", final=True)
    trail.record_receipt("mall#s2#x", "mall", "s2", at, 5, "m9")
    orders.get_event_outcome = lambda key: {"outcome": "stale"} if key == KEYS[1] else None
    (s1, s2) = report(date(2026, 11, 25), [("mall", "s1"), ("mall", "s2")], trail, orders, [], 1)
    assert (s1.accepted, s1.booked, s1.settled_without_change, s1.in_flight) == (3, 1, 1, 1)
    assert not s1.difference
    assert (s2.store, s2.accepted, s2.in_flight) == ("s2", 1, 1)
    (other_day,) = report(date(2026, 11, 24), [("mall", "s1")], trail, orders, [], 0)
    assert other_day.accepted == 0


@pytest.mark.parametrize("text", ["", "2026-13-01", "25/11/2026", "2026-11-25T00:00", "20261125"])
def test_bad_days_are_refused(text):
    with pytest.raises(ValueError):
        parse_day(text)
