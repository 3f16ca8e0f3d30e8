"""The order-event queue (SQS) with S3 overflow for messages over SQS's size limit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# SQS takes 256 KiB including attributes; stay clear of it.
MAX_INLINE_BYTES = 240 * 1024


class SqsEventQueue:
    """Sends JSON messages; a message too large for SQS is parked in S3 and sent as a pointer."""

    def __init__(self, sqs: Any, queue_url: str, s3: Any, bucket: str) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self._s3 = s3
        self._bucket = bucket

    def send(self, body: Mapping[str, Any], correlation_id: str) -> str:
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
            data = json.dumps({"overflow": {"bucket": self._bucket, "key": key}})
        response = self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=data,
            MessageAttributes={
                "correlation_id": {"DataType": "String", "StringValue": correlation_id}
            },
        )
        return str(response["MessageId"])


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
