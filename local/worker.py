"""Stand-in for Lambda's SQS event source mapping: long-poll, invoke, delete what succeeded.

Semantics kept from AWS: batches of up to `batch_size`; a handler that raises fails the whole
batch; a handler that returns `batchItemFailures` fails only those; failed messages are not
deleted, so they reappear after the visibility timeout and the queue's redrive policy moves
them to the DLQ after maxReceiveCount receives.

Polling as the event source mapping polls: long polls of SQS's maximum, 20 s. A poll returns
as soon as a message arrives (the emulator checks every 50 ms), so the wait costs no latency;
it only sets how many empty `ReceiveMessage`s an idle queue costs: one per poller per 20 s,
counted by the emulator and billed by AWS like any other (a 1 s wait made twenty).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from local.lambda_runtime import LocalLambdaContext, sns_event, sqs_record

log = logging.getLogger("orderhub.local.worker")

Handler = Callable[[dict[str, Any], Any], Any]

LONG_POLL_SECONDS = 20  # SQS's longest ReceiveMessage wait, the event source mapping's


def failed_ids(result: Any) -> set[str]:
    """Message ids a partial-batch response reports as failed."""
    if not isinstance(result, dict):
        return set()
    return {str(f["itemIdentifier"]) for f in result.get("batchItemFailures") or []}


class SqsPoller(threading.Thread):
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        function_name: str,
        handler: Handler,
        region: str,
        batch_size: int = 10,
        wait_seconds: int = LONG_POLL_SECONDS,
        batching_window: float = 0,
    ) -> None:
        super().__init__(name=f"sqs-poller-{function_name}", daemon=True)
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._function_name = function_name
        self._handler = handler
        self._region = region
        self._batch_size = batch_size
        self._wait_seconds = wait_seconds
        self._window = batching_window  # MaximumBatchingWindowInSeconds
        self._halt = threading.Event()
        self._idle = threading.Event()  # set while no batch is in hand
        self._idle.set()

    def stop(self) -> None:
        self._halt.set()

    def settle(self, timeout: float) -> None:
        """After `stop`: wait for the batch in hand, if any, to finish. A poller still in a
        long poll is left to it (a daemon thread): whatever that poll returns stays on the
        queue, invisible until its visibility timeout, as after a Lambda crash."""
        self._idle.wait(timeout)

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.poll_once()
            except Exception:  # keep polling, as the event source mapping does
                log.exception("poll of %s failed", self._queue_url)
                self._halt.wait(1.0)
            finally:
                self._idle.set()

    def _receive(self, **extra: Any) -> list[dict[str, Any]]:
        """One batch as the event source mapping gathers it: up to `batch_size` messages, at
        most 10 per ReceiveMessage (SQS's limit). With a batching window, after the first
        message: immediate receives while they bring messages; once the queue has none, the
        rest of the window (from the first message) is waited out and the receives go on
        once more. Every receive, empty or not, is counted by the emulator."""
        messages = self._receive_some(self._wait_seconds, **extra)
        if messages:
            self._idle.clear()  # a batch in hand: `settle` waits for it
        if not messages or self._window <= 0:
            return messages
        deadline, waited = time.monotonic() + self._window, False
        while len(messages) < self._batch_size:
            more = self._receive_some(0, len(messages), **extra)
            messages.extend(more)
            if more:
                continue
            left = deadline - time.monotonic()
            if waited or left <= 0:
                break
            self._halt.wait(left)
            waited = True
        return messages

    def _receive_some(self, wait: int, have: int = 0, **extra: Any) -> list[dict[str, Any]]:
        answer = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=min(10, self._batch_size - have),
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
            **extra,
        )
        return list(answer.get("Messages", []))

    def poll_once(self) -> int:
        """Receive one batch, invoke the handler, delete the successes; returns batch size."""
        messages = self._receive(MessageAttributeNames=["All"])
        if not messages:
            return 0
        event = {"Records": [sqs_record(m, self._queue_arn, self._region) for m in messages]}
        try:
            failed = failed_ids(self._handler(event, LocalLambdaContext(self._function_name)))
        except Exception:
            log.exception("%s failed; the batch returns to the queue", self._function_name)
            return len(messages)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        return len(messages)


LAMBDA_ASYNC_ATTEMPTS = 3  # SNS invokes asynchronously: Lambda tries an event 1 + 2 times


class SnsLambdaPoller(SqsPoller):
    """Stand-in for SNS invoking a subscribed function (local/provision.py `_subscription`):
    reads the queue the topic delivers to, invokes the handler with Lambda's SNS event, one
    message per invocation, and deletes it on success. A failed invocation is retried after
    the queue's visibility timeout, and dropped (logged) after Lambda's three attempts."""

    def poll_once(self) -> int:
        messages = self._receive()
        for message in messages:
            attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            try:
                event = sns_event(json.loads(message["Body"]), self._queue_arn, self._region)
                self._handler(event, LocalLambdaContext(self._function_name))
            except Exception:
                log.exception("%s failed (attempt %d)", self._function_name, attempt)
                if attempt < LAMBDA_ASYNC_ATTEMPTS:
                    continue
                log.error("%s: event dropped after %d attempts", self._function_name, attempt)
            self._sqs.delete_message(
                QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        return len(messages)
