"""The order-event consumer: SQS batches in, one booking per record, a partial-batch response out.

Records that fail are reported in `batchItemFailures` and return to the queue after their
visibility timeout; the queue's redrive policy parks them in the DLQ after 5 receives.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Blueprint

from chalicelib.deps import Container, container
from chalicelib.domain.booking import BookingContext
from chalicelib.domain.model import OrderEvent
from chalicelib.domain.ports import StoreRules
from chalicelib.domain.processing import ProcessResult, process_order_event
from chalicelib.observability import logger, metrics

# Must equal OrderEventsQueue's QueueName in infra/resources.json (a test checks).
ORDER_QUEUE_NAME = "orderhub-order-events"

bp = Blueprint(__name__)


def handle_order_message(body: str, deps: Container) -> ProcessResult:
    """Load one queued message and book its event."""
    message = deps.loader.load(body)
    event = OrderEvent.from_dict(message["event"])
    log = logger()
    log.set_correlation_id(event.correlation_id)
    store = deps.catalog.get_store(event.platform, event.store)
    rules = store.rules if store else StoreRules()
    resolve = None
    if rules.sku_mapping == "table":

        def resolve(channel_sku: str) -> str | None:
            return deps.catalog.resolve_sku(event.platform, event.store, channel_sku)

    def context() -> BookingContext:
        return BookingContext(deps.now(), deps.warehouses(), rules)

    result = process_order_event(event, deps.orders, context, resolve)
    lag = (deps.now() - event.received_at).total_seconds()
    log.info(
        "order event processed",
        extra={
            "event_key": event.event_key,
            "outcome": result.outcome.value,
            "reason": result.reason,
            "attempts": result.attempts,
            "lag_seconds": lag,
        },
    )
    collected = metrics()
    collected.add_metric(name=f"Outcome_{result.outcome.value}", unit="Count", value=1)
    collected.add_metric(name="WebhookToBookedSeconds", unit="Seconds", value=lag)
    return result


@bp.on_sqs_message(queue=ORDER_QUEUE_NAME, batch_size=10)
def handle_order_events(event: Any) -> dict[str, Any]:
    deps = container()

    def record_handler(record: SQSRecord) -> str:
        return handle_order_message(record.body, deps).outcome.value

    return dict(
        process_partial_response(
            event=event.to_dict(),
            record_handler=record_handler,
            processor=BatchProcessor(event_type=EventType.SQS),
            context=event.context,
        )
    )
