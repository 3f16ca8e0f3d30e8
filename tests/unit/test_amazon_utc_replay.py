"""The seed incident, replayed at the edge: 237 Amazon US notifications stamped in UTC during a
Beijing evening (12:00-23:59 +08:00, i.e. 04:00-15:59 UTC) were read as GMT+8 and dropped as
"in the future". Here every one reads as the UTC instant it names, whatever its form ('Z',
'+00:00', with or without milliseconds), none lies after a clock at the end of that window,
and none is even skewed from its receipt."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chalicelib.api.amazon import handle_amazon_notification
from chalicelib.api.processor import handle_order_message
from chalicelib.channels.amazon import parse_amazon_notification
from chalicelib.domain.details import OrderDetailRouter
from chalicelib.domain.model import Outcome
from chalicelib.domain.ports import Store
from chalicelib.domain.skew import clock_skew
from tests.amazon_fakes import FakeAmazonOrders
from tests.conftest import fixture_json
from tests.fakes import with_stock

EXAMPLE = fixture_json("amazon/OrderChangeNotification_example0.json")
BEIJING = ZoneInfo("Asia/Shanghai")
WINDOW_START = datetime(2026, 11, 25, 12, 0, tzinfo=BEIJING)  # 04:00 UTC
WINDOW_END = datetime(2026, 11, 25, 23, 59, 59, 999000, tzinfo=BEIJING)  # 15:59:59.999 UTC
COUNT = 237
FORMS = (
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"),
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z",
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+00:00",
)


def stamps() -> list[datetime]:
    """237 UTC instants spread over the window, the last one in its final minute."""
    span = (WINDOW_END - WINDOW_START) - timedelta(seconds=30)
    step = span / (COUNT - 1)
    start = WINDOW_START.astimezone(UTC)
    return [(start + step * i).replace(microsecond=(i * 7919) % 1000 * 1000) for i in range(COUNT)]


def notification(i: int, stamp_text: str) -> str:
    document = copy.deepcopy(EXAMPLE)
    change = document["Payload"]["OrderChangeNotification"]
    change["AmazonOrderId"] = f"111-{i:07d}-{i * 37 % 10_000_000:07d}"
    change["OrderChangeTrigger"]["TimeOfOrderChange"] = stamp_text
    document["EventTime"] = stamp_text  # Amazon sends it as the order changes, by its clock
    document["NotificationMetadata"]["NotificationId"] = f"replay-{i:03d}"
    return json.dumps(document)


def test_the_window_is_the_beijing_evening_in_utc():
    assert WINDOW_START.astimezone(UTC) == datetime(2026, 11, 25, 4, tzinfo=UTC)
    assert WINDOW_END.astimezone(UTC).replace(microsecond=0) == datetime(
        2026, 11, 25, 15, 59, 59, tzinfo=UTC
    )


def test_237_utc_notifications_read_as_their_utc_instant_and_none_is_in_the_future():
    clock = WINDOW_END.astimezone(UTC)
    instants = stamps()
    assert len(instants) == COUNT
    events = []
    for i, instant in enumerate(instants):
        text = FORMS[i % len(FORMS)](instant)
        received = instant + timedelta(seconds=2)  # Amazon -> our queue
        event = parse_amazon_notification(notification(i, text), received).event
        assert event is not None, text
        expected = instant if "." in text else instant.replace(microsecond=0)
        assert event.updated_at == expected, text
        assert event.updated_at.tzinfo is UTC and event.updated_at_raw == text
        # the same instant on a Beijing wall clock is that evening, 12:00-23:59
        local = event.updated_at.astimezone(BEIJING)
        assert local.date() == WINDOW_START.date() and 12 <= local.hour <= 23, text
        assert event.updated_at <= clock, f"{text} lies after {clock.isoformat()}"
        assert clock_skew(event) is None, text
        events.append(event)
    assert {e.event_key for e in events} == {
        f"amazon#A3TH9S8BH6GOGM#replay-{i:03d}" for i in range(COUNT)
    }
    assert len({e.order_id for e in events}) == COUNT
    assert {form_of(i) for i in range(len(FORMS))} == {"Z", "+00:00", ".mmmZ", ".mmm+00:00"}


def form_of(i: int) -> str:
    """Which form FORMS[i] writes, for the coverage check."""
    sample = FORMS[i](datetime(2026, 11, 25, 4, 0, 0, 123000, tzinfo=UTC))
    return sample[len("2026-11-25T04:00:00") :].replace("123", "mmm")


def test_read_as_gmt8_they_would_have_been_eight_hours_off():
    """What the incident did: the same wall-clock text taken as Beijing time names an instant
    8 h away from the one Amazon meant. Our reading never depends on a zone: the offset, or
    UTC when there is none."""
    instant = stamps()[-1].replace(microsecond=0)
    wrong = instant.replace(tzinfo=None).replace(tzinfo=BEIJING).astimezone(UTC)
    event = parse_amazon_notification(
        notification(0, instant.strftime("%Y-%m-%dT%H:%M:%SZ")), instant
    ).event
    assert event is not None
    assert event.updated_at - wrong == timedelta(hours=8)


def test_all_237_are_booked_and_only_genuinely_skewed_events_raise_the_skew_anomaly(deps):
    """The whole path: each notification through the Amazon consumer onto the order queue,
    then the processor, with our clock at its receipt. All 237 book; three planted events
    whose clocks are really off (8 h ahead; 10 days behind) book too and are the only ones
    counted on the store's P2 anomaly."""
    seller = "A3TH9S8BH6GOGM"
    deps.catalog.put_store(Store("amazon", seller, "orderhub/stores/amazon/" + seller))
    with_stock(deps.orders, "SellerSKUID1", "w1", 10 * (COUNT + 3))
    # each order as Amazon's Orders API gives it (the skew is judged on the notification)
    default = ("Unshipped", "2025-11-20T00:00:00Z", (("SellerSKUID1", 10, "99.00"),))
    deps.order_details = OrderDetailRouter({"amazon": FakeAmazonOrders(default)})
    skewed = {
        COUNT: timedelta(hours=8),
        COUNT + 1: timedelta(hours=8, minutes=30),
        COUNT + 2: timedelta(days=-10),
    }
    outcomes = []
    for i, instant in enumerate([*stamps(), *([stamps()[-1]] * len(skewed))]):
        received = instant + timedelta(seconds=2)
        stamp = instant + skewed.get(i, timedelta(0))
        deps.now.moment = received
        body = notification(i, FORMS[i % len(FORMS)](stamp))
        assert handle_amazon_notification(body, received, deps) == "queued"
        ((message, _),) = deps.queue.messages
        deps.queue.messages.clear()
        outcomes.append(handle_order_message(json.dumps(message), deps).outcome)
    assert outcomes == [Outcome.BOOKED] * (COUNT + len(skewed))
    anomaly = deps.orders.get_anomaly("clock_skew", f"amazon#{seller}")
    assert anomaly is not None and anomaly["priority"] == "P2"
    assert anomaly["occurrences"] == len(skewed)
