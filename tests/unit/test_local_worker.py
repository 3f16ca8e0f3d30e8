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


def test_polls_are_long_polls_of_twenty_seconds_as_the_event_source_mappings():
    asked = []

    class Recording(FakeSqs):
        def receive_message(self, **kwargs):
            asked.append(kwargs["WaitTimeSeconds"])
            return super().receive_message(**kwargs)

    poller(Recording([]), lambda event, context: None).poll_once()
    assert asked == [20]  # an idle queue costs one ReceiveMessage per poller per 20 s


def test_settle_waits_for_the_batch_in_hand_and_not_for_an_idle_long_poll():
    import threading

    release, started = threading.Event(), threading.Event()

    def slow(event, context):
        started.set()
        release.wait(5)

    busy = poller(FakeSqs([message(0)]), slow)
    busy.start()
    assert started.wait(5)
    busy.stop()
    threading.Timer(0.2, release.set).start()
    busy.settle(5)  # returns once the batch is done and deleted
    assert busy._sqs.deleted == ["r0"]

    class Blocking(FakeSqs):
        def receive_message(self, **kwargs):
            release_poll.wait(5)  # a long poll that has not returned yet
            return {"Messages": []}

    release_poll = threading.Event()
    idle = poller(Blocking([]), slow)
    idle.start()
    idle.stop()
    idle.settle(5)  # nothing in hand: at once, the poll left to itself (a daemon)
    assert idle.is_alive()
    release_poll.set()
    idle.join(5)
    assert not idle.is_alive()


class Arriving(FakeSqs):
    """A queue whose messages arrive over time: `waves` is what each receive finds."""

    def __init__(self, waves):
        super().__init__([])
        self.waves = list(waves)
        self.asked: list[tuple[int, int]] = []

    def receive_message(self, **kwargs):
        self.asked.append((kwargs["MaxNumberOfMessages"], kwargs["WaitTimeSeconds"]))
        found = self.waves.pop(0) if self.waves else []
        return {"Messages": found}


def windowed(sqs, handler, batch_size: int, window: float) -> SqsPoller:
    return SqsPoller(
        sqs, "url", "arn:aws:sqs:us-east-1:1:q", "fn", handler, "us-east-1", batch_size, 20, window
    )


def test_a_batching_window_gathers_up_to_the_batch_size_ten_per_receive():
    batches = []
    sqs = Arriving([[message(i) for i in range(10)], [message(i) for i in range(10, 20)]])
    windowed(sqs, lambda e, c: batches.append(len(e["Records"])), 20, 1).poll_once()
    assert batches == [20]  # one invocation for both receives
    assert sqs.asked == [(10, 20), (10, 0)]  # then no wait: the batch was full


def test_a_batching_window_waits_out_the_window_once_the_queue_is_empty():
    import time

    batches = []
    sqs = Arriving([[message(0)], [], [message(1), message(2)], []])
    started = time.monotonic()
    windowed(sqs, lambda e, c: batches.append(len(e["Records"])), 20, 0.3).poll_once()
    assert batches == [3] and time.monotonic() - started >= 0.25
    assert sqs.asked == [(10, 20), (10, 0), (10, 0), (10, 0)]  # each receive counted
