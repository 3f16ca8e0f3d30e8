"""The alarm relay: CloudWatch's alarm messages into notices, one per real change of state,
with the recovery, a link to the page that shows the cause, and the banner."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from chalice.test import Client

from app import app
from chalicelib.api.alarm_relay import topic_priority
from chalicelib.deps import use_container
from chalicelib.domain.alarms import (
    ANNOUNCE,
    AlarmMessageInvalid,
    banner_alarm,
    banners,
    decide,
    parse_alarm_message,
    relay_alarm,
)
from tests.alarm_fakes import FakeAlarmStates
from tests.fakes import FakeNotifier
from tests.unit.test_http_api import KEY, FakeContainer

BASE = "https://api.example.com/api"
T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:us-east-1:123456789012:orderhub-alerts-{}"


def message(name: str, state: str, at: datetime, old: str = "OK", **extra: object) -> str:
    """CloudWatch's alarm notification, as its documentation shows it."""
    document = {
        "AlarmName": name,
        "AlarmDescription": f"{name} means trouble.",
        "AWSAccountId": "123456789012",
        "NewStateValue": state,
        "NewStateReason": "Threshold Crossed: 1 datapoint [3.0] was greater than 0.0",
        "StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
        "Region": "US East (N. Virginia)",
        "AlarmArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}",
        "OldStateValue": old,
        "Trigger": {"MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS"},
        **extra,
    }
    return json.dumps(document)


def change(name: str, state: str, at: datetime, old: str = "OK"):
    found = parse_alarm_message(message(name, state, at, old))
    assert found is not None
    return found


def test_cloudwatchs_message_is_read_and_other_messages_are_not_alarms():
    found = change("orderhub-order-events-dlq-not-empty", "ALARM", T0)
    assert (found.name, found.new_state, found.old_state) == (
        "orderhub-order-events-dlq-not-empty",
        "ALARM",
        "OK",
    )
    assert found.changed_at == T0 and found.region == "us-east-1"
    assert found.metric == "AWS/SQS/ApproximateNumberOfMessagesVisible"
    notice_on_topic = json.dumps({"kind": "anomaly_opened", "priority": "P0", "title": "x"})
    assert parse_alarm_message(notice_on_topic) is None
    assert parse_alarm_message("not json") is None
    with pytest.raises(AlarmMessageInvalid):
        parse_alarm_message(json.dumps({"AlarmName": "x", "NewStateValue": "ALARM"}))


def test_one_message_per_real_change_of_state():
    states, notifier = FakeAlarmStates(), FakeNotifier()
    name = "orderhub-order-events-dlq-not-empty"

    def relay(state: str, at: datetime, old: str = "OK") -> str:
        return relay_alarm(change(name, state, at, old), "P0", states, notifier, BASE).outcome

    assert relay("OK", T0) == "ignored"  # never announced: nothing recovered
    assert relay("ALARM", T0 + timedelta(minutes=1)) == "announced"
    assert relay("ALARM", T0 + timedelta(minutes=1)) == "ignored"  # SNS redelivered it
    assert relay("INSUFFICIENT_DATA", T0 + timedelta(minutes=2), "ALARM") == "ignored"
    assert relay("ALARM", T0 + timedelta(minutes=3), "INSUFFICIENT_DATA") == "ignored"
    assert relay("OK", T0 + timedelta(minutes=31), "ALARM") == "recovered"
    assert relay("ALARM", T0 + timedelta(minutes=2)) == "ignored"  # late, out of order
    assert relay("OK", T0 + timedelta(minutes=32)) == "ignored"
    assert relay("ALARM", T0 + timedelta(hours=2)) == "announced"  # a new episode
    kinds = [n.kind for n in notifier.notices]
    assert kinds == ["alarm", "alarm_recovered", "alarm"]
    opened, recovered = notifier.notices[:2]
    assert opened.title == "P0 ALARM: orderhub-order-events-dlq-not-empty"
    assert "means trouble" in opened.body and "Threshold Crossed" in opened.body
    assert recovered.title == "P0 recovered: orderhub-order-events-dlq-not-empty"
    assert recovered.body.startswith("Back to OK after 30 min in ALARM.")


def test_decide_reads_only_the_last_announced_state():
    name = "orderhub-processor-errors"
    assert decide(change(name, "ALARM", T0), None) == ANNOUNCE
    assert decide(change(name, "OK", T0), None) is None
    assert decide(change(name, "INSUFFICIENT_DATA", T0), None) is None


def test_links_open_the_page_that_shows_the_cause():
    states, notifier = FakeAlarmStates(), FakeNotifier()
    for name in (
        "orderhub-oversell-rate-above-0",
        "orderhub-stock-pushes-pending-over-10-min",
        "orderhub-channel-health-failing",
        "orderhub-processor-errors",
    ):
        relay_alarm(change(name, "ALARM", T0), "P1", states, notifier, BASE)
    links = [n.link for n in notifier.notices]
    assert links[:3] == [
        f"{BASE}/console#/anomalies",
        f"{BASE}/console#/inventory",
        f"{BASE}/console#/board",
    ]
    assert links[3] == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#dashboards/dashboard/orderhub-operations"
    )
    facts = notifier.notices[3].facts
    assert facts["alarm page"].endswith("#alarmsV2:alarm/orderhub-processor-errors")
    assert facts["runbook"] == "docs/operations.md (orderhub-processor-errors)"


def test_the_metric_table_picks_the_channels_of_its_alarms():
    states, notifier = FakeAlarmStates(), FakeNotifier()
    relay_alarm(
        change("orderhub-sync-latency-p50-over-60s", "ALARM", T0), "P1", states, notifier, BASE
    )
    relay_alarm(change("orderhub-oversell-rate-above-0", "ALARM", T0), "P0", states, notifier, BASE)
    relay_alarm(change("orderhub-processor-errors", "ALARM", T0), "P1", states, notifier, BASE)
    assert [n.via for n in notifier.notices] == [("wecom", "email"), ("sms",), ()]
    assert notifier.notices[0].facts["target"] == "sync delay (median) < 60 s"


def test_a_notice_no_route_took_gives_the_state_back_so_the_retry_announces_it():
    states, notifier = FakeAlarmStates(), FakeNotifier()
    name = "orderhub-order-events-dlq-not-empty"
    notifier.error = RuntimeError("no route took the notice")
    with pytest.raises(RuntimeError):
        relay_alarm(change(name, "ALARM", T0), "P0", states, notifier, BASE)
    assert states.get(name) is None
    notifier.error = None
    assert relay_alarm(change(name, "ALARM", T0), "P0", states, notifier, BASE).outcome == (
        "announced"
    )
    notifier.error = RuntimeError("down again")
    with pytest.raises(RuntimeError):
        relay_alarm(change(name, "OK", T0 + timedelta(minutes=5)), "P0", states, notifier, BASE)
    current = states.get(name)
    assert current is not None and current.state == "ALARM"  # the recovery is retried


def test_banners_show_the_tables_banner_alarms_while_in_alarm():
    states, notifier = FakeAlarmStates(), FakeNotifier()
    oversell = "orderhub-oversell-rate-above-0"
    relay_alarm(change(oversell, "ALARM", T0), "P0", states, notifier, BASE)
    relay_alarm(change("orderhub-processor-errors", "ALARM", T0), "P1", states, notifier, BASE)
    shown = banners(states.all(), banner_alarm)
    assert [b["alarm"] for b in shown] == [oversell]
    assert shown[0]["link"] == f"{BASE}/console#/anomalies"
    assert shown[0]["since"] == T0.isoformat()
    relay_alarm(
        change(oversell, "OK", T0 + timedelta(days=1), "ALARM"), "P0", states, notifier, BASE
    )
    assert banners(states.all(), banner_alarm) == []


def test_topic_priority_comes_from_the_settings_then_the_topic_name():
    topics = {"P0": TOPIC.format("p0"), "finance": "arn:aws:sns:us-east-1:1:orderhub-finance"}
    assert topic_priority(TOPIC.format("p0"), topics) == "P0"
    assert topic_priority(TOPIC.format("p2"), topics) == "P2"


@pytest.fixture
def deps():
    container = FakeContainer()
    container.settings.link_base_url = BASE
    container.settings.notify_topics = {p: TOPIC.format(p.lower()) for p in ("P0", "P1", "P2")}
    use_container(container)
    yield container
    use_container(None)


def sns_event(text: str, topic: str) -> dict:
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {"Type": "Notification", "TopicArn": topic, "Message": text},
            }
        ]
    }


def test_the_relay_function_and_the_banner_route(deps):
    with Client(app) as client:
        oversell = message("orderhub-oversell-rate-above-0", "ALARM", T0)
        answer = client.lambda_.invoke("relay_alarms", sns_event(oversell, TOPIC.format("p0")))
        assert answer.payload == {
            "relayed": [
                {
                    "alarm": "orderhub-oversell-rate-above-0",
                    "state": "ALARM",
                    "outcome": "announced",
                }
            ]
        }
        own_notice = json.dumps({"kind": "anomaly_opened", "priority": "P0"})
        assert client.lambda_.invoke(
            "relay_alarms", sns_event(own_notice, TOPIC.format("p0"))
        ).payload == {"relayed": []}
        assert deps.notifier.notices[0].priority == "P0"
        response = client.http.get("/ops/banners", headers={"Authorization": f"Bearer {KEY}"})
        assert response.status_code == 200
        assert [b["alarm"] for b in response.json_body["banners"]] == [
            "orderhub-oversell-rate-above-0"
        ]


def test_an_unreadable_alarm_message_is_logged_and_skipped_not_retried(deps):
    broken = json.dumps({"AlarmName": "orderhub-processor-errors", "NewStateValue": "ALARM"})
    good = message("orderhub-processor-errors", "ALARM", T0)
    event = sns_event(broken, TOPIC.format("p1"))
    event["Records"] += sns_event(good, TOPIC.format("p1"))["Records"]
    with Client(app) as client:
        answer = client.lambda_.invoke("relay_alarms", event)
    assert [r["outcome"] for r in answer.payload["relayed"]] == ["announced"]
    assert [n.priority for n in deps.notifier.notices] == ["P1"]
