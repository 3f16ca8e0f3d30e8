"""The alarm relay's stores against moto, held to the in-memory fakes the unit tests use
(one contract, both implementations), and the local stand-ins for what moto does not do:
alarm actions published to SNS on a change of state, texts handed to the local phone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.alarm_states import DynamoAlarmStates, DynamoSmsBudget
from chalicelib.adapters.notify import MemorySmsBudget
from chalicelib.domain.alarms import AlarmState, parse_alarm_message
from local.alarm_actions import SMS_SINK_VARIABLE
from local.stub_notify import StubNotify
from tests.alarm_fakes import FakeAlarmStates

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def state(name: str, value: str, at: datetime) -> AlarmState:
    return AlarmState(name, value, at, "P0", at, title=f"P0 {value}: {name}", link="https://x/")


@pytest.fixture(params=["fake", "dynamodb"])
def states(request, container):
    if request.param == "fake":
        return FakeAlarmStates()
    return DynamoAlarmStates(lambda: container.dynamodb, container.settings.ops_stats_table)


@pytest.fixture(params=["memory", "dynamodb"])
def budget(request, container):
    if request.param == "memory":
        return MemorySmsBudget()
    return DynamoSmsBudget(lambda: container.dynamodb, container.settings.ops_stats_table)


def test_replace_is_conditioned_on_the_state_read(states):
    first = state("a", "ALARM", T0)
    assert states.get("a") is None
    assert states.replace(first, None)
    assert not states.replace(first, None)  # a second first write loses
    assert states.get("a") == first
    recovered = state("a", "OK", T0 + timedelta(minutes=5))
    stale = state("a", "OK", T0 - timedelta(minutes=5))
    assert not states.replace(recovered, stale)
    assert states.replace(recovered, first)
    assert not states.replace(state("a", "ALARM", T0 + timedelta(hours=1)), first)
    assert states.get("a") == recovered
    assert [s.name for s in states.all()] == ["a"]


def test_undo_puts_back_only_its_own_write(states):
    first = state("b", "ALARM", T0)
    states.replace(first, None)
    states.undo(first, None)
    assert states.get("b") is None
    states.replace(first, None)
    newer = state("b", "OK", T0 + timedelta(minutes=1))
    states.replace(newer, first)
    states.undo(first, None)  # not what is stored any more: left alone
    assert states.get("b") == newer
    states.undo(newer, first)
    assert states.get("b") == first


def test_the_budget_counts_per_channel_and_window_up_to_the_limit(budget):
    expires = T0 + timedelta(days=1)
    assert [budget.take("ops-sms", "w1", 3, expires) for _ in range(5)] == [1, 2, 3, None, None]
    assert budget.take("ops-sms", "w2", 3, expires) == 1
    assert budget.take("other", "w1", 3, expires) == 1


def test_a_change_of_alarm_state_publishes_to_its_action_topics(emulated_stack):
    session = emulated_stack.session
    sqs, cloudwatch = session.client("sqs"), session.client("cloudwatch")
    subscription = emulated_stack.resources["AlertsP0RelaySubscription"]
    assert subscription.attrs["Function"] == "RelayAlarms"
    queue = subscription.attrs["QueueUrl"]
    name = "orderhub-order-events-dlq-not-empty"

    def received() -> list[dict]:
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages")
            if not batch:
                return found
            found += [json.loads(m["Body"]) for m in batch]
            for m in batch:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])

    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="again")
    envelopes = received()
    assert len(envelopes) == 1  # the same state again is no change: no action
    assert envelopes[0]["Subject"] == f'ALARM: "{name}" in US East (N. Virginia)'
    assert envelopes[0]["TopicArn"].endswith(":orderhub-alerts-p0")
    change = parse_alarm_message(envelopes[0]["Message"])
    assert change is not None and (change.name, change.new_state) == (name, "ALARM")
    assert change.old_state == "OK" and change.reason == "test"
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="drained")
    (ok,) = received()
    assert parse_alarm_message(ok["Message"]).new_state == "OK"  # type: ignore[union-attr]
    p1_queue = emulated_stack.resources["AlertsP1RelaySubscription"].attrs["QueueUrl"]
    assert "Messages" not in sqs.receive_message(QueueUrl=p1_queue)  # P0's alarm only


def test_texts_reach_the_local_phone(emulated_stack, monkeypatch):
    phone = StubNotify(0)
    phone.start()
    try:
        monkeypatch.setenv(SMS_SINK_VARIABLE, f"{phone.url}/_stub/sms")
        sns = emulated_stack.session.client("sns")
        sns.publish(PhoneNumber="+8613800000000", Message="OrderHub P0 ALARM: x\nhttps://h/")
        (text,) = phone.texts()
        assert text["to"] == "+8613800000000" and text["message"].endswith("https://h/")
    finally:
        phone.stop()
