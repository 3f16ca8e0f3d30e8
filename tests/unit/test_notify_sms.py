"""SMS as a notifier channel: configuration (E.164 numbers per channel, P0 by default), the
text (headline and link), the budget that stops an alarm storm, and the metric table's
`via` channel types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.adapters.notify import (
    MemorySmsBudget,
    RobotClient,
    RoutingNotifier,
    SesMailer,
    SmsSender,
    SnsPublisher,
    sms_window,
)
from chalicelib.domain.notices import Notice
from chalicelib.domain.notify_formats import SMS_LAST_OF_WINDOW, SMS_MAX_CHARS, sms_text
from chalicelib.domain.notify_routing import (
    NotificationConfigError,
    SmsList,
    SnsTopic,
    parse_config,
    targets_for,
)
from tests.fakes import FixedClock
from tests.unit.test_notify_delivery import Failures, FakeRobots, FakeSes, FakeSns

WECOM = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"
DOC = {
    "email": {"sender": "alerts@example.com"},
    "channels": {
        "ops-wecom": {"type": "wecom", "url": WECOM},
        "ops-mail": {"type": "email", "to": ["ops@example.com"]},
        "ops-sms": {"type": "sms", "to": ["+8613800000000", "+14155550100"], "limit": 3},
        "p1-sms": {"type": "sms", "to": ["+8613900000000"], "priorities": ["P0", "P1"]},
    },
    "routes": [
        {
            "audiences": ["*"],
            "priorities": ["P0", "P1", "P2"],
            "sns": "priority",
            "channels": ["ops-wecom"],
        },
        {"audiences": ["*"], "priorities": ["P0"], "channels": ["ops-mail"]},
        {"audiences": ["ops"], "priorities": ["*"], "channels": ["ops-sms", "p1-sms"]},
    ],
}
TOPICS = {t: f"arn:aws:sns:us-east-1:123456789012:orderhub-{t.lower()}" for t in ("P0", "P1")}


def notice(priority: str = "P0", kind: str = "anomaly_opened", **extra: Any) -> Notice:
    return Notice(
        kind,
        priority,
        "ops",
        f"{priority} out_of_stock: mall#demo-shop#A-1",
        "SKU A is sold out.",
        "https://orderhub.example.com/console#/anomalies",
        datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
        **extra,
    )


def names(targets: list[Any]) -> list[str]:
    return [t.name for t in targets]


def test_sms_channels_take_p0_by_default_and_only_the_priorities_they_list():
    config = parse_config(DOC)
    assert config.channels["ops-sms"] == SmsList(
        "ops-sms", ("+8613800000000", "+14155550100"), ("P0",), 3, 60
    )
    assert "ops-sms" in names(targets_for(notice("P0"), config))
    assert "ops-sms" not in names(targets_for(notice("P1"), config))
    assert "p1-sms" in names(targets_for(notice("P1"), config))
    assert "p1-sms" not in names(targets_for(notice("P2"), config))


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"type": "sms", "to": ["13800000000"]}, "channels.s.to[0]"),
        ({"type": "sms", "to": []}, "channels.s.to"),
        (
            {"type": "sms", "to": ["+8613800000000"], "priorities": ["P5"]},
            "channels.s.priorities[0]",
        ),
        ({"type": "sms", "to": ["+8613800000000"], "limit": 0}, "channels.s.limit"),
        (
            {"type": "sms", "to": ["+8613800000000"], "window_minutes": True},
            "channels.s.window_minutes",
        ),
        ({"type": "sms", "to": ["+8613800000000"], "url": "x"}, "channels.s.url"),
    ],
)
def test_a_bad_sms_channel_is_refused_naming_the_field(spec, field):
    with pytest.raises(
        NotificationConfigError, match=field.replace("[", r"\[").replace("]", r"\]")
    ):
        parse_config({"channels": {"s": spec}, "routes": []})


def test_alarm_notices_never_go_back_to_the_sns_topics():
    config = parse_config(DOC)
    assert SnsTopic("P0") in targets_for(notice("P0"), config)
    relayed = targets_for(notice("P0", kind="alarm"), config)
    assert not [t for t in relayed if isinstance(t, SnsTopic)]
    assert {"ops-wecom", "ops-mail", "ops-sms"} <= set(names(relayed))


def test_via_adds_the_named_channel_types_whatever_the_routes_priorities():
    config = parse_config(DOC)
    plain = names(targets_for(notice("P1", kind="alarm"), config))
    assert "ops-mail" not in plain  # P1 routes have no email
    wanted = names(targets_for(notice("P1", kind="alarm", via=("wecom", "email")), config))
    assert wanted[: len(plain)] == plain and "ops-mail" in wanted
    texted = names(targets_for(notice("P2", kind="alarm", via=("sms",)), config))
    assert {"ops-sms", "p1-sms"} <= set(texted)  # the table asks for SMS: priorities aside


def test_the_text_keeps_the_headline_and_the_link_within_its_size():
    text = sms_text(notice("P0"))
    assert text.splitlines() == [
        "OrderHub P0 out_of_stock: mall#demo-shop#A-1",
        "https://orderhub.example.com/console#/anomalies",
    ]
    long = Notice("alarm", "P0", "ops", "P0 " + "x" * 900, "", "https://h.example/p")
    cut = sms_text(long, last_in_window=True)
    assert len(cut) <= SMS_MAX_CHARS
    assert cut.endswith("https://h.example/p\n" + SMS_LAST_OF_WINDOW)


@pytest.fixture
def world():
    sns, ses, robots, failures = FakeSns(), FakeSes(), FakeRobots(), Failures()
    clock = FixedClock(datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC))
    budget = MemorySmsBudget()
    notifier = RoutingNotifier(
        lambda: parse_config(DOC),
        SnsPublisher(lambda: sns, TOPICS),
        RobotClient(opener=robots),
        SesMailer(lambda: ses),
        clock,
        on_failure=failures,
        sms=SmsSender(lambda: sns),
        budget=budget,
    )
    return notifier, sns, clock, failures


def texts(sns: FakeSns) -> list[dict[str, Any]]:
    return [p for p in sns.published if "PhoneNumber" in p]


def test_p0_texts_every_number_of_the_channel_as_transactional_sms(world):
    notifier, sns, _, failures = world
    notifier.notify(notice("P0"))
    sent = texts(sns)
    numbers = {"+8613800000000", "+14155550100", "+8613900000000"}
    assert {p["PhoneNumber"] for p in sent} == numbers
    assert all("https://orderhub.example.com/console#/anomalies" in p["Message"] for p in sent)
    attributes = sent[0]["MessageAttributes"]["AWS.SNS.SMS.SMSType"]
    assert attributes["StringValue"] == "Transactional"
    assert failures.seen == []


def test_a_storm_sends_at_most_the_limit_per_window_and_says_so_on_the_last(world):
    notifier, sns, clock, failures = world
    for _ in range(40):  # an alarm storm: 40 P0 notices in one window
        notifier.notify(notice("P0"))
    to_one = [p for p in texts(sns) if p["PhoneNumber"] == "+14155550100"]
    assert len(to_one) == 3  # the channel's limit
    assert SMS_LAST_OF_WINDOW in to_one[-1]["Message"]
    assert all(SMS_LAST_OF_WINDOW not in p["Message"] for p in to_one[:-1])
    assert failures.seen == []  # suppressed texts are not failures
    clock.moment += timedelta(hours=1)  # the next window has its own budget
    notifier.notify(notice("P0"))
    assert len([p for p in texts(sns) if p["PhoneNumber"] == "+14155550100"]) == 4


def test_a_failed_text_is_a_failed_route_but_the_others_still_deliver(world):
    notifier, sns, _, failures = world
    sns.error = RuntimeError("spend limit reached")  # SNS down: the topic and the texts
    notifier.notify(notice("P0"))  # no raise: the robot and the mail took it
    routes = {route for route, _ in failures.seen}
    assert routes == {"ops-sms", "p1-sms", "sns:P0"}
    assert all("+86138" not in reason for _, reason in failures.seen)  # numbers not logged


def test_sms_windows_are_aligned_and_forgotten_a_day_later():
    start, expires = sms_window(datetime(2026, 11, 25, 8, 59, 59, tzinfo=UTC), 60)
    assert start == "2026-11-25T08:00Z"
    assert expires == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
