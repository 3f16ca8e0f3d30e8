"""The order-event queue (SQS) with S3 overflow for messages over SQS's size limit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.archive import batch_document, batch_member, split_archive_key
from chalicelib.domain.errors import TransientFailure

# SQS takes 256 KiB including attributes; stay clear of it.
MAX_INLINE_BYTES = 240 * 1024
MAX_BATCH_ENTRIES = 10  # SendMessageBatch: 10 entries, 256 KiB in all
MAX_BATCH_BYTES = 240 * 1024


class SqsEventQueue:
    """Sends JSON messages; a message too large for SQS is parked in S3 and sent as a pointer."""

    def __init__(self, sqs: Any, queue_url: str, s3: Any, bucket: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._s3 = s3
        self._bucket = bucket

    def send(self, body: Mapping[str, Any], correlation_id: str) -> str:
        response = self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=self._inline(body),
            MessageAttributes=_attributes(correlation_id),
        )
        return str(response["MessageId"])

    def send_many(self, messages: Sequence[tuple[Mapping[str, Any], str]]) -> list[str]:
        """Several messages in as few `SendMessageBatch` requests as SQS allows (10 entries,
        MAX_BATCH_BYTES); their ids in order. Raises TransientFailure if SQS refused any: the
        source redelivers, and booking dedupes the ones that went."""
        bodies = [(self._inline(body), correlation) for body, correlation in messages]
        ids: list[str] = []
        chunk: list[tuple[str, str]] = []
        size = 0
        for data, correlation in bodies:
            length = len(data.encode("utf-8"))
            if chunk and (len(chunk) == MAX_BATCH_ENTRIES or size + length > MAX_BATCH_BYTES):
                ids += self._send_batch(chunk)
                chunk, size = [], 0
            chunk.append((data, correlation))
            size += length
        if chunk:
            ids += self._send_batch(chunk)
        return ids

    def _send_batch(self, chunk: list[tuple[str, str]]) -> list[str]:
        answer = self._sqs.send_message_batch(
            QueueUrl=self._queue_url,
            Entries=[
                {"Id": str(i), "MessageBody": data, "MessageAttributes": _attributes(correlation)}
                for i, (data, correlation) in enumerate(chunk)
            ],
        )
        if answer.get("Failed"):
            failed = answer["Failed"][0]
            raise TransientFailure(
                f"SQS refused {len(answer['Failed'])} of {len(chunk)} messages: "
                f"{failed.get('Code')}: {failed.get('Message')}"
            )
        by_id = {entry["Id"]: str(entry["MessageId"]) for entry in answer.get("Successful", [])}
        return [by_id[str(i)] for i in range(len(chunk))]

    def _inline(self, body: Mapping[str, Any]) -> str:
        """The message body, or a pointer to it in S3 when too large for SQS."""
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        if len(data.encode("utf-8")) > MAX_INLINE_BYTES:
            day = datetime.now(UTC).strftime("%Y/%m/%d")
            key = f"overflow/{day}/{uuid.uuid4()}.json"
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=data.encode("utf-8"),
                ContentType="application/json",
            )
            pointer: dict[str, Any] = {"overflow": {"bucket": self._bucket, "key": key}}
            event = body.get("event")
            if isinstance(event, Mapping):  # what the DLQ and conservation name it by
                summary = ("event_key", "platform", "store", "order_id")
                pointer["event"] = {name: event.get(name) for name in summary}
            data = json.dumps(pointer)
        return data


def _attributes(correlation_id: str) -> dict[str, Any]:
    return {"correlation_id": {"DataType": "String", "StringValue": correlation_id}}


class MessageLoader:
    """Reads a queued message body back, following an S3 overflow pointer."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def load(self, body: str) -> dict[str, Any]:
        message = json.loads(body)
        pointer = message.get("overflow") if isinstance(message, dict) else None
        if pointer:
            obj = self._s3.get_object(Bucket=pointer["bucket"], Key=pointer["key"])
            message = json.loads(obj["Body"].read())
        if not isinstance(message, dict):
            raise ValueError("queued message is not a JSON object")
        return message


class QueueMonitor:
    """Depth and age of our queues, for metrics, health and operators."""

    def __init__(self, sqs: Any, queues: Mapping[str, str]) -> None:
        self._sqs = sqs
        self._queues = dict(queues)

    def depths(self) -> dict[str, dict[str, int]]:
        result = {}
        for name, url in self._queues.items():
            attrs = self._sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            result[name] = {
                "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
                "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            }
        return result


class QueueVisibility:
    """Delays a received message's next delivery: the backoff of a failed attempt."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url

    def delay(self, receipt_handle: str, seconds: int) -> None:
        self._sqs.change_message_visibility(
            QueueUrl=self._queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )


class DeadLetterQueue:
    """The order DLQ for operators: look at what is parked, and send it back for another try."""

    def __init__(self, sqs: Any, dlq_url: str, queue_url: str) -> None:
        self._sqs = sqs
        self._dlq_url = dlq_url
        self._queue_url = queue_url

    def depth(self) -> int:
        attrs = self._sqs.get_queue_attributes(
            QueueUrl=self._dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0))

    def sample_oldest_sent(self) -> int | None:
        """SentTimestamp (ms) of the oldest of up to 10 messages, without hiding them."""
        messages = self._sqs.receive_message(
            QueueUrl=self._dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            AttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        sent = [int(m["Attributes"]["SentTimestamp"]) for m in messages]
        return min(sent) if sent else None

    def browse(self, hold_seconds: int = 30, limit: int = 10_000) -> list[dict[str, Any]]:
        """Every parked message, each once. They are hidden while we page (so each shows once)
        and made visible again at the end, so the next command sees them too; their receipt
        handles stay good for a replay's delete unless someone else receives them meanwhile."""
        seen: dict[str, dict[str, Any]] = {}
        while len(seen) < limit:
            batch = self._sqs.receive_message(
                QueueUrl=self._dlq_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=hold_seconds,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen[message["MessageId"]] = message
        messages = list(seen.values())
        for start in range(0, len(messages), 10):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(messages[start : start + 10])
                ],
            )
        return messages

    def replay(self, message: Mapping[str, Any]) -> str:
        """Back onto the order queue, then out of the DLQ: if we die in between it is in both,
        which booking tolerates (a redelivery books nothing more)."""
        attributes = {
            name: {"DataType": value["DataType"], "StringValue": value["StringValue"]}
            for name, value in (message.get("MessageAttributes") or {}).items()
            if "StringValue" in value
        }
        sent = self._sqs.send_message(
            QueueUrl=self._queue_url, MessageBody=message["Body"], MessageAttributes=attributes
        )
        self._sqs.delete_message(QueueUrl=self._dlq_url, ReceiptHandle=message["ReceiptHandle"])
        return str(sent["MessageId"])


class RawArchive:
    """Keeps each event's raw payload in the raw-payload bucket (domain/archive.py)."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def keep(self, key: str, document: Mapping[str, Any]) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=json.dumps(document, ensure_ascii=False).encode("utf-8"),
            ContentType="application/json",
        )

    def keep_batch(self, object_key: str, documents: Mapping[str, Mapping[str, Any]]) -> None:
        """A batch's documents (by event key) in one object (domain/archive.py)."""
        self.keep(object_key, batch_document(documents))

    def read(self, key: str) -> dict[str, Any] | None:
        """The document under a per-event key, or one event's of a batch (`<object>#<member>`)."""
        object_key, member = split_archive_key(key)
        try:
            obj = self._s3.get_object(Bucket=self._bucket, Key=object_key)
        except self._s3.exceptions.NoSuchKey:
            return None
        document = json.loads(obj["Body"].read())
        if not isinstance(document, dict):
            return None
        return document if member is None else batch_member(document, member)
