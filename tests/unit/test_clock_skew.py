"""Clock skew: a sender whose clock is far from ours (its own send time more than 5 minutes
from our receipt, either way) is reported per store, and its events are booked anyway; an
order's old `updated_at` is not skew."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.api.processor import handle_order_message
from chalicelib.domain.model import Outcome, Priority
from chalicelib.domain.skew import (
    TOLERANCE,
    clock_skew,
    report_skew,
    sender_time,
    skew_anomaly,
)
from chalicelib.domain.timeutil import parse_aware
from tests.builders import RECEIVED, event
from tests.fakes import FakeOrderRepository


def at(offset: timedelta, **kw):
    moment = RECEIVED + offset
    return replace(event(**kw), updated_at=moment, updated_at_raw=moment.isoformat())


def sent(offset: timedelta, updated: timedelta = timedelta(0), **kw):
    """An event whose sender stamped its delivery `offset` from our receipt."""
    return replace(at(updated, **kw), sent_at=RECEIVED + offset)


@pytest.mark.parametrize(
    "offset",
    [timedelta(0), TOLERANCE, -TOLERANCE, timedelta(minutes=-4, seconds=-59)],
)
def test_send_times_within_five_minutes_either_way_are_not_skew(offset):
    assert clock_skew(sent(offset)) is None


@pytest.mark.parametrize(
    "updated",
    [timedelta(minutes=-30), timedelta(hours=-48), timedelta(days=-400), TOLERANCE],
)
def test_an_old_updated_at_is_not_skew(updated):
    # an order changed long ago, delivered now (a sender retrying, a poller catching up)
    assert clock_skew(at(updated)) is None
    assert clock_skew(sent(timedelta(seconds=2), updated=updated)) is None


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (TOLERANCE + timedelta(seconds=1), "5 min ahead of"),
        (timedelta(hours=8), "8.0 h ahead of"),  # a UTC clock read as GMT+8, the other way
        (-TOLERANCE - timedelta(seconds=1), "5 min behind"),
        (timedelta(hours=-8), "8.0 h behind"),
    ],
)
def test_send_times_beyond_five_minutes_either_way_are_skew_with_a_readable_detail(offset, words):
    skewed = sent(offset)
    skew = clock_skew(skewed)
    assert skew is not None and skew.seconds == offset.total_seconds()
    assert skew.basis == "send time"
    anomaly = skew_anomaly(skewed, skew)
    assert (anomaly.rule, anomaly.subject, anomaly.priority) == ("clock_skew", "mall#s1", "P2")
    assert words in anomaly.detail and "processed anyway" in anomaly.detail
    assert "send time" in anomaly.detail


def test_without_a_send_time_only_an_event_time_in_the_future_is_skew():
    ahead = at(timedelta(hours=8))
    skew = clock_skew(ahead)
    assert skew is not None and skew.basis == "event time"
    assert "event time" in skew_anomaly(ahead, skew).detail
    assert clock_skew(at(TOLERANCE)) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"webhook-timestamp": "1764057600"}, "2025-11-25T08:00:00+00:00"),
        (
            {"x-shopify-triggered-at": "2025-11-25T08:00:00.877041743Z"},
            "2025-11-25T08:00:00.877041+00:00",
        ),
        ({"x-shopify-triggered-at": "2025-11-25T16:00:00+08:00"}, "2025-11-25T08:00:00+00:00"),
        ({"x-shopify-triggered-at": "yesterday"}, None),
        ({"x-shopify-triggered-at": "2025-11-25T08:00:00"}, None),  # no zone: not a time
        ({"content-type": "application/json"}, None),
    ],
)
def test_the_send_time_webhook_headers_carry(headers, expected):
    found = sender_time(headers)
    assert (found.isoformat() if found else None) == expected


def test_the_seed_incident_times_are_not_skew_once_read_as_utc():
    # An Amazon US order stamped 20:30 UTC, received 20:30:04 UTC (04:30 Beijing next day):
    # read as GMT+8 it would be 8 hours "in the future"; read as what it says, it is on time.
    stamped = "2026-11-25T20:30:00Z"
    received = parse_aware("2026-11-25T20:30:04Z")
    on_time = replace(
        event(), updated_at=parse_aware(stamped), updated_at_raw=stamped, received_at=received
    )
    assert clock_skew(on_time) is None


def test_report_opens_one_anomaly_per_store_and_counts_repeats():
    repo = FakeOrderRepository()
    for n in range(3):
        skewed = at(timedelta(hours=2), order_id=f"o-{n}")
        assert report_skew(skewed, Outcome.BOOKED, repo, RECEIVED) is not None
    anomaly = repo.get_anomaly("clock_skew", "mall#s1")
    assert anomaly["priority"] == Priority.P2.value and anomaly["occurrences"] == 3


def test_report_ignores_duplicates_and_on_time_events():
    repo = FakeOrderRepository()
    assert report_skew(at(timedelta(hours=2)), Outcome.DUPLICATE, repo, RECEIVED) is None
    assert report_skew(at(timedelta(0)), Outcome.BOOKED, repo, RECEIVED) is None
    assert repo.get_anomaly("clock_skew", "mall#s1") is None


def message(evt) -> str:
    return json.dumps({"event": evt.to_dict(), "raw": ""})


def test_a_skewed_event_is_booked_not_dropped(deps):
    skewed = at(timedelta(hours=8), platform="mall", store="demo-shop", lines=(("SKU-A", 2),))
    result = handle_order_message(message(skewed), deps)
    assert result.outcome is Outcome.BOOKED
    assert deps.orders.get_order(skewed.order_key).booking.value == "reserved"
    anomaly = deps.orders.get_anomaly("clock_skew", "mall#demo-shop")
    assert anomaly is not None and anomaly["priority"] == "P2"
    # the same delivery again books nothing and counts nothing more
    again = handle_order_message(message(skewed), deps)
    assert again.outcome is Outcome.DUPLICATE
    assert deps.orders.get_anomaly("clock_skew", "mall#demo-shop")["occurrences"] == 1


def test_an_on_time_event_raises_no_skew(deps):
    on_time = at(timedelta(seconds=-3), platform="mall", store="demo-shop")
    assert handle_order_message(message(on_time), deps).outcome is Outcome.BOOKED
    assert deps.orders.get_anomaly("clock_skew", "mall#demo-shop") is None
