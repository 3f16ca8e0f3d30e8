"""Alarms reach people on the running local stack, routed as AWS routes them: SetAlarmState →
the alarm's action topic (the emulator runs alarm actions, local/alarm_actions.py) → the
relay's subscription (a queue the stack reads, invoking `relay_alarms` with Lambda's SNS
event) → the notifier: the WeCom and DingTalk stub robots, an email through the emulated SES
and a text to the stub phone, each with the link to the console page; OK sends the
recovery the same ways; repeating a state sends nothing; the oversell alarm shows a banner."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from local.notify_local import sent_emails

pytestmark = pytest.mark.e2e

ALARM = "orderhub-events-pending-over-5-min"  # P0, its cause is shown on the anomalies page
OVERSELL = "orderhub-oversell-rate-above-0"


def state(stack) -> dict:
    return dict(json.loads(stack.state_file.read_text()))


@pytest.fixture(autouse=True)
def drain_alert_taps(stack):
    """The alarms' own messages also reach the topics' tap queues; leave them empty for the
    other e2e files sharing this stack."""
    yield
    sqs = stack.client("sqs")
    time.sleep(1)  # the last OK's publication
    for topic, url in state(stack)["sns_taps"].items():
        while topic.startswith("orderhub-alerts-"):
            out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            if not out.get("Messages"):
                break
            for m in out["Messages"]:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def eventually(read: Callable[[], list[Any]], count: int, timeout: float = 30) -> list[Any]:
    deadline = time.monotonic() + timeout
    found: list[Any] = []
    while time.monotonic() < deadline:
        found = read()
        if len(found) >= count:
            return found
        time.sleep(0.3)
    raise AssertionError(f"expected {count}, got {len(found)}: {found}")


def test_alarm_and_recovery_reach_robots_email_and_sms_with_the_link(stack):
    robots = state(stack)["notify_stub_url"]
    requests.post(f"{robots}/_stub/reset", timeout=10).raise_for_status()
    mails_before = len(sent_emails(stack.aws))
    cloudwatch = stack.client("cloudwatch")
    link = f"{stack.api}/console#/anomalies"

    def robot_messages(title: str) -> list[dict]:
        captured = requests.get(f"{robots}/_stub/notifications", timeout=10).json()
        return [c for c in captured if title in json.dumps(c["body"], ensure_ascii=False)]

    def mails(subject: str) -> list[dict]:
        return [m for m in sent_emails(stack.aws)[mails_before:] if subject in m["subject"]]

    def texts(title: str) -> list[dict]:
        found = requests.get(f"{robots}/_stub/sms", timeout=10).json()
        return [t for t in found if title in t["message"]]

    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="e2e: stuck")
    title = f"P0 ALARM: {ALARM}"
    captured = eventually(lambda: robot_messages(title), 2)
    assert sorted(c["robot"] for c in captured) == ["dingtalk", "wecom"]
    for message in captured:
        assert link in json.dumps(message["body"], ensure_ascii=False)
    (mail,) = eventually(lambda: mails(title), 1)
    assert mail["destinations"] == {"ToAddresses": ["ops@example.com"]}
    assert link in mail["body"] and "e2e: stuck" in mail["body"]
    (text,) = eventually(lambda: texts(title), 1)
    assert text["to"] == "+8613800000000"
    assert text["message"].splitlines()[:2] == [f"OrderHub {title}", link]

    # the same state again is no change: CloudWatch publishes nothing, nobody is told twice
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="e2e: again")
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="e2e: drained")
    recovered = f"P0 recovered: {ALARM}"
    assert len(eventually(lambda: robot_messages(recovered), 2)) == 2
    (mail,) = eventually(lambda: mails(recovered), 1)
    assert link in mail["body"]
    (text,) = eventually(lambda: texts(recovered), 1)
    assert link in text["message"]
    assert len(robot_messages(title)) == 2 and len(texts(title)) == 1 and len(mails(title)) == 1


def test_the_oversell_alarm_shows_a_banner_until_it_recovers(stack):
    cloudwatch = stack.client("cloudwatch")
    cloudwatch.set_alarm_state(AlarmName=OVERSELL, StateValue="ALARM", StateReason="e2e: 0.5 %")

    def shown() -> list[dict]:
        response = stack.get("/ops/banners")
        assert response.status_code == 200, response.text
        return list(response.json()["banners"])

    (banner,) = eventually(shown, 1)
    assert banner["alarm"] == OVERSELL and banner["priority"] == "P0"
    assert banner["link"] == f"{stack.api}/console#/anomalies"
    assert banner["reason"] == "e2e: 0.5 %"
    cloudwatch.set_alarm_state(AlarmName=OVERSELL, StateValue="OK", StateReason="e2e: 0 %")
    deadline = time.monotonic() + 30
    while shown() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert shown() == []
