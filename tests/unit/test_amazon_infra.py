"""What the Amazon consumer expects of infra/resources.json and .chalice/policy.json: its queue,
the DLQ after 5 receives, the policy that lets only Amazon's SP-API notifications account
send, the DLQ alarm, and the Lambda role's rights on the queue. Checked without AWS."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

from chalice.app import SQSEventConfig

from app import app
from chalicelib.api.amazon import AMAZON_QUEUE_NAME
from chalicelib.domain.delivery import MAX_ATTEMPTS
from local.provision import load_template
from tests.conftest import ROOT

RESOURCES = load_template()["Resources"]
QUEUE = RESOURCES["AmazonNotificationsQueue"]["Properties"]
SP_API_NOTIFICATIONS_ACCOUNT = "437568002678"  # Amazon's documented sender account


def test_the_consumer_reads_the_queue_infra_defines():
    assert QUEUE["QueueName"] == AMAZON_QUEUE_NAME
    (source,) = [
        s
        for s in app.event_sources
        if isinstance(s, SQSEventConfig) and s.name == "handle_amazon_notifications"
    ]
    assert source.queue == AMAZON_QUEUE_NAME and source.batch_size == 10


def test_the_queue_parks_in_its_dlq_after_five_receives():
    redrive = QUEUE["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == MAX_ATTEMPTS == 5
    assert redrive["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["AmazonNotificationsDeadLetterQueue", "Arn"]
    }
    dlq = RESOURCES["AmazonNotificationsDeadLetterQueue"]["Properties"]
    assert dlq["QueueName"] == f"{AMAZON_QUEUE_NAME}-dlq"
    assert dlq["MessageRetentionPeriod"] > QUEUE["MessageRetentionPeriod"]
    # the Lambda timeout (10 s) fits in the visibility timeout several times over
    assert QUEUE["VisibilityTimeout"] >= 6 * 10


def test_only_amazons_notifications_account_may_send():
    policy = RESOURCES["AmazonNotificationsQueuePolicy"]
    assert policy["Type"] == "AWS::SQS::QueuePolicy"
    assert policy["Properties"]["Queues"] == [{"Ref": "AmazonNotificationsQueue"}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{SP_API_NOTIFICATIONS_ACCOUNT}:root"}
    assert sorted(statement["Action"]) == ["sqs:GetQueueAttributes", "sqs:SendMessage"]
    assert statement["Resource"] == {"Fn::GetAtt": ["AmazonNotificationsQueue", "Arn"]}


def test_a_parked_notification_raises_an_alarm():
    alarm = RESOURCES["AmazonNotificationsDlqNotEmptyAlarm"]["Properties"]
    (dimension,) = alarm["Dimensions"]
    assert dimension["Value"] == {"Fn::GetAtt": ["AmazonNotificationsDeadLetterQueue", "QueueName"]}
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_the_event_source_reports_partial_batch_failures():
    fragment = RESOURCES["HandleAmazonNotifications"]["Properties"]["Events"]
    source = fragment["HandleAmazonNotificationsSqsEventSource"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_the_lambda_role_may_consume_the_queue():
    """What Lambda's event source mapping needs, and what a redrive back needs."""
    policy = json.loads((ROOT / ".chalice" / "policy.json").read_text())
    arn = f"arn:aws:sqs:us-east-1:123456789012:{AMAZON_QUEUE_NAME}"
    granted = {
        action
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        and any(fnmatchcase(arn, r) for r in _listed(statement["Resource"]))
        for action in _listed(statement["Action"])
    }
    needed = {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    assert needed <= granted


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value
