"""The SQS consumers' partial-batch response (Powertools' BatchProcessor), imported on a
consumer's first batch: Powertools' batch utilities bring its event data classes and asyncio
(≈ 30 ms of CPU at a cold start, bench/cold_start.py) that no other function needs, and every
function imports app.py, so none of them should pay for it at import."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def partial_batch_response(
    event: Any, record_handler: Callable[[SQSRecord], str]
) -> dict[str, Any]:
    """Each record of the SQS `event` (Chalice's) through `record_handler`; the failed ones in
    `batchItemFailures` (a raise is a failure; a whole failed batch is not raised)."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    return dict(
        process_partial_response(
            event=event.to_dict(),
            record_handler=record_handler,
            processor=BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False),
            context=event.context,
        )
    )
