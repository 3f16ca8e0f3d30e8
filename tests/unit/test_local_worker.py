"""The local stand-in for Lambda's SQS event source mapping deletes exactly what succeeded."""

from __future__ import annotations

from local.worker import SqsPoller, failed_ids


class FakeSqs:
    def __init__(self, messages):
        self.messages = messages
        self.deleted: list[str] = []

    def receive_message(self, **kwargs):
        batch, self.messages = self.messages[: kwargs["MaxNumberOfMessages"]], self.messages[10:]
        return {"Messages": batch}

    def delete_message_batch(self, QueueUrl, Entries):
        self.deleted.extend(e["ReceiptHandle"] for e in Entries)


def message(i: int) -> dict:
    return {
        "MessageId": f"m{i}",
        "ReceiptHandle": f"r{i}",
        "Body": "{}",
        "Attributes": {"ApproximateReceiveCount": "1"},
        "MessageAttributes": {"correlation_id": {"DataType": "String", "StringValue": "c"}},
    }


def poller(sqs, handler) -> SqsPoller:
    return SqsPoller(sqs, "url", "arn:aws:sqs:us-east-1:123456789012:q", "fn", handler, "us-east-1")


def test_successes_are_deleted_and_reported_failures_kept():
    sqs = FakeSqs([message(i) for i in range(3)])
    seen = []

    def handler(event, context):
        seen.extend(r["messageId"] for r in event["Records"])
        assert event["Records"][0]["messageAttributes"]["correlation_id"]["stringValue"] == "c"
        assert context.get_remaining_time_in_millis() > 0
        return {"batchItemFailures": [{"itemIdentifier": "m1"}]}

    assert poller(sqs, handler).poll_once() == 3
    assert seen == ["m0", "m1", "m2"]
    assert sqs.deleted == ["r0", "r2"]


def test_handler_error_fails_the_whole_batch():
    sqs = FakeSqs([message(0), message(1)])

    def handler(event, context):
        raise RuntimeError("boom")

    assert poller(sqs, handler).poll_once() == 2
    assert sqs.deleted == []


def test_empty_receive_invokes_nothing():
    sqs = FakeSqs([])
    assert poller(sqs, lambda e, c: (_ for _ in ()).throw(AssertionError())).poll_once() == 0


def test_failed_ids_reads_only_partial_batch_responses():
    assert failed_ids(None) == set()
    assert failed_ids({"batchItemFailures": []}) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "x"}]}) == {"x"}
