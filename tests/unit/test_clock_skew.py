"""Clock skew: events stamped far from our clock are booked anyway, reported per store."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from chalicelib.api.processor import handle_order_message
from chalicelib.domain.model import Outcome, Priority
from chalicelib.domain.skew import PAST_TOLERANCE, clock_skew, report_skew, skew_anomaly
from chalicelib.domain.timeutil import parse_aware
from tests.builders import RECEIVED, event
from tests.fakes import FakeOrderRepository


def at(offset: timedelta, **kw):
    moment = RECEIVED + offset
    return replace(event(**kw), updated_at=moment, updated_at_raw=moment.isoformat())


@pytest.mark.parametrize(
    "offset",
    [
        timedelta(0),
        timedelta(minutes=5),  # the tolerance itself is not skew
        timedelta(minutes=-30),
        timedelta(hours=-48),  # a sender retrying for two days
        -PAST_TOLERANCE,
    ],
)
def test_times_within_tolerance_are_not_skew(offset):
    assert clock_skew(at(offset)) is None


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (timedelta(minutes=5, seconds=1), "5 min ahead of"),
        (timedelta(hours=8), "8.0 h ahead of"),  # a UTC time read as GMT+8, the other way
        (-PAST_TOLERANCE - timedelta(seconds=1), "7.0 days behind"),
        (timedelta(days=-400), "400.0 days behind"),
    ],
)
def test_times_beyond_tolerance_are_skew_with_a_readable_detail(offset, words):
    skewed = at(offset)
    skew = clock_skew(skewed)
    assert skew is not None and skew.seconds == offset.total_seconds()
    anomaly = skew_anomaly(skewed, skew)
    assert (anomaly.rule, anomaly.subject, anomaly.priority) == ("clock_skew", "mall#s1", "P2")
    assert words in anomaly.detail and "processed anyway" in anomaly.detail


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
